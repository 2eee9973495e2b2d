"""``build_dataset``: one name for every data source the CLI accepts.

``spec`` is ``fashion-mnist`` (the installed IDX files), ``synthetic`` or ``synthetic:CxHxW``, or a path:
a folder of Fashion-MNIST IDX files, a CIFAR-10/100 copy (python or binary layout), or an image folder
(``PATH/train`` and ``PATH/val`` when present, else ``PATH`` itself for both splits).
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import ArrayDataset, ImageDataset
from .cifar import find_cifar, load_cifar
from .fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist
from .image_folder import ImageFolder
from .synthetic import SyntheticDataset

SPLITS = ("train", "val")
_VAL_FOLDERS = ("val", "validation", "test")
_SYNTHETIC = re.compile(r"^synthetic(?::(\d+)x(\d+)x(\d+))?$")
_SYNTHETIC_SIZES = {"train": 1024, "val": 256}


def build_dataset(spec: str, split: str = "train", **kwargs) -> ImageDataset:
    """The ``split`` (``train`` or ``val``) of ``spec``; ``kwargs`` (``transform``, ``seed``) go to the dataset."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if spec == "fashion-mnist":
        return _fashion_mnist(None, split, **kwargs)
    synthetic = _SYNTHETIC.match(spec)
    if synthetic:
        c, h, w = (int(v) for v in synthetic.groups()) if synthetic.group(1) else (1, 28, 28)
        return SyntheticDataset(_SYNTHETIC_SIZES[split], 10, (h, w), c, data_seed=SPLITS.index(split), **kwargs)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"data {spec!r} is neither 'fashion-mnist', 'synthetic' nor an existing path; pass one of those"
        )
    if any(path.glob("train-images-idx3-ubyte*")):
        return _fashion_mnist(path, split, **kwargs)
    if find_cifar(path) is not None:
        images, labels, classes = load_cifar(path, "train" if split == "train" else "test")
        return ArrayDataset(images, labels, classes, **kwargs)
    return ImageFolder(_folder_split(path, split), **kwargs)


def _fashion_mnist(root, split: str, **kwargs) -> ArrayDataset:
    images, labels = load_fashion_mnist("train" if split == "train" else "test", root)
    return ArrayDataset(images, labels, FASHION_MNIST_CLASSES, **kwargs)


def _folder_split(root: Path, split: str) -> Path:
    names = ("train",) if split == "train" else _VAL_FOLDERS
    return next((root / n for n in names if (root / n).is_dir()), root)

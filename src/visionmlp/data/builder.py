"""``build_dataset``: one name for every data source the CLI accepts.

``spec`` is ``fashion-mnist`` (the installed IDX files; its ``val`` split is the 10,000 test images),
``fashion-mnist:holdout`` (train on 54,000 of the 60,000 training images, validate on the other 6,000, held
out by a fixed seed so that every run shares them, and keep the test images for ``test`` alone: what recipes
are chosen on), ``fashion-mnist-mosaic`` (the dense task: canvases of garments, ``data/mosaic.py``; training
canvases from the training images, the others from the test images; ``fashion-mnist-mosaic:HxW`` for canvases of
another size than 96x96), ``synthetic`` or ``synthetic:CxHxW``, or a path:
a folder of Fashion-MNIST IDX files, a CIFAR-10/100 copy (python or binary layout), or an image folder:
``PATH/train`` (else ``PATH``) for training and ``PATH/val`` (or ``validation``, ``test``) for validation; without
a validation folder, a seeded ``val_split`` fraction of the training images is held out for it, so that a run is
never validated on the images it trains on. A dense-task folder (``PATH/train`` and ``PATH/val``, each with
``images/`` + ``masks/`` or an ``annotations.json``) is read by ``data/dense.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import ArrayDataset, ImageDataset
from .cifar import find_cifar, load_cifar
from .dense import CocoDetection, DenseDataset, SegmentationFolder
from .fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist
from .image_folder import ImageFolder
from .mosaic import FashionMnistMosaic
from .synthetic import SyntheticDataset

SPLITS = ("train", "val", "test")
FASHION_MNIST_HOLDOUT = "fashion-mnist:holdout"
_MOSAIC = re.compile(r"^fashion-mnist-mosaic(?::(\d+)x(\d+))?$")
#: canvases per split of fashion-mnist-mosaic (each a pure function of its index: nothing is stored)
MOSAIC_COUNTS = {"train": 20000, "test": 2000}
# The hold-out of fashion-mnist:holdout is one fixed set, whatever a run's seed, so that runs compare on it.
_HOLDOUT_SEED = 0
_VAL_FOLDERS = ("val", "validation", "test")
_SYNTHETIC = re.compile(r"^synthetic(?::(\d+)x(\d+)x(\d+))?$")
_SYNTHETIC_SIZES = {"train": 1024, "val": 256}


def build_dataset(spec: str, split: str = "train", val_split: float = 0.1, **kwargs) -> ImageDataset:
    """The ``split`` (``train``, ``val`` or ``test``) of ``spec``; ``val_split`` is the fraction held out of an
    image folder that has no validation folder (seeded by ``seed``) and of ``fashion-mnist:holdout``'s training
    images; ``kwargs`` (``transform``, ``seed``) go to the dataset. ``test`` is the test set of the sources that
    have one apart from their validation data (``fashion-mnist:holdout``); elsewhere it is the ``val`` split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if spec == FASHION_MNIST_HOLDOUT:
        if split == "test":
            return _fashion_mnist(None, "test", **kwargs)
        return _fashion_mnist(None, "train", **kwargs).hold_out(val_split, _HOLDOUT_SEED, held=split == "val")
    mosaic = _MOSAIC.match(spec)
    if mosaic:
        part = "train" if split == "train" else "test"
        size = (int(mosaic.group(1)), int(mosaic.group(2))) if mosaic.group(1) else (96, 96)
        return FashionMnistMosaic(part, size=size, count=MOSAIC_COUNTS[part])  # one fixed set for every run
    split = "val" if split == "test" else split
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
    dense = _dense_folder(path, split)
    if dense is not None:
        return dense
    if find_cifar(path) is not None:
        images, labels, classes = load_cifar(path, "train" if split == "train" else "test")
        return ArrayDataset(images, labels, classes, **kwargs)
    return _image_folder(path, split, val_split, **kwargs)


def _fashion_mnist(root, split: str, **kwargs) -> ArrayDataset:
    images, labels = load_fashion_mnist("train" if split == "train" else "test", root)
    return ArrayDataset(images, labels, FASHION_MNIST_CLASSES, **kwargs)


def _dense_folder(root: Path, split: str) -> DenseDataset | None:
    """A segmentation (images/ + masks/) or COCO (annotations.json) folder under ``root/train`` and ``root/val``
    (or ``root`` itself for every split), if ``root`` is one."""
    for folder in (root / ("train" if split == "train" else "val"), root):
        if (folder / "masks").is_dir():
            return SegmentationFolder(folder)
        if (folder / "annotations.json").is_file():
            return CocoDetection(folder)
    return None


def _image_folder(root: Path, split: str, val_split: float, **kwargs) -> ImageFolder:
    train = root / "train" if (root / "train").is_dir() else root
    val = next((root / n for n in _VAL_FOLDERS if (root / n).is_dir()), None)
    if val is not None:
        return ImageFolder(train if split == "train" else val, **kwargs)
    return ImageFolder(train, **kwargs).hold_out(val_split, kwargs.get("seed", 0), held=split == "val")

"""Fashion-MNIST from its IDX files, as Debian's ``dataset-fashion-mnist`` package installs them.

The four files (gzipped or not) are read straight into uint8 tensors: 60k + 10k images of 28x28 are
47 MB, so the whole set lives in memory and batches are slices, with no per-image Python overhead.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049


def fashion_mnist_dir(root: str | Path | None = None) -> Path:
    """``root``, else ``$VISIONMLP_FASHION_MNIST``, else the Debian package's folder."""
    return Path(root or os.environ.get("VISIONMLP_FASHION_MNIST") or DEFAULT_DIR)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64 of the ``train`` or ``test`` split."""
    if split not in _FILES:
        raise ValueError(f"unknown Fashion-MNIST split {split!r}; valid splits: train, test")
    folder = fashion_mnist_dir(root)
    images_name, labels_name, count = _FILES[split]
    images = _read_idx(_find(folder, images_name), _IMAGES_MAGIC)
    labels = _read_idx(_find(folder, labels_name), _LABELS_MAGIC)
    if len(images) != count or len(labels) != count:
        raise ValueError(
            f"Fashion-MNIST {split} files in {folder} hold {len(images)} images and {len(labels)} labels, "
            f"expected {count} of each; the files are incomplete: reinstall dataset-fashion-mnist"
        )
    if labels.max() > 9:
        raise ValueError(f"Fashion-MNIST {split} labels in {folder} go up to {labels.max()}; expected 0..9")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"Fashion-MNIST file {name}(.gz) not found in {folder}; install it with `make data` "
        "(apt-get install dataset-fashion-mnist) or set VISIONMLP_FASHION_MNIST to the folder holding the IDX files"
    )


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse an IDX file (big-endian header: magic, dims; then uint8 data), checking it is whole."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path} could not be read ({err}); the file is corrupted: reinstall it") from None
    ndim = magic - 2048
    header = 4 + 4 * ndim
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise ValueError(f"{path} is not an IDX file of the expected kind (bad magic number)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"{path} holds {len(data)} bytes, its header promises {expected}: the file is truncated")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)

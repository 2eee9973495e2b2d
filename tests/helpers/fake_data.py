"""Small stand-ins for the real datasets, written where a test wants them."""

import gzip
import struct

import numpy as np


def write_fashion_mnist_split(folder, split, count, value):
    """IDX files whose every garment is a 16x16 square of brightness ``value`` (labels cycle 0..9)."""
    names = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}[split]  # fmt: skip
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    images[:, 6:22, 6:22] = value
    with gzip.open(folder / f"{names[0]}.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes())
    with gzip.open(folder / f"{names[1]}.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, count) + bytes(i % 10 for i in range(count)))


def squares_fashion_mnist(folder):
    """A Fashion-MNIST folder of full size whose training garments are squares of 100 and test ones of 200."""
    write_fashion_mnist_split(folder, "train", 60000, 100)
    write_fashion_mnist_split(folder, "test", 10000, 200)
    return folder

"""The IDX reader: real files when installed, and clear errors for missing, truncated or foreign files."""

import gzip
import struct

import pytest
import torch

from visionmlp.data import FASHION_MNIST_CLASSES, fashion_mnist_dir, load_fashion_mnist


def _write_idx(path, array_shape, magic, payload=None, gz=True):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array_shape)
    n = 1
    for d in array_shape:
        n *= d
    data = header + (payload if payload is not None else bytes(i % 10 for i in range(n)))
    (gzip.open if gz else open)(path, "wb").write(data)


def _fake_split(folder, split="test", count=10000, truncate=False):
    images, labels = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                      "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}[split]  # fmt: skip
    payload = bytes(count * 28 * 28 - (5 if truncate else 0))
    _write_idx(folder / f"{images}.gz", (count, 28, 28), 2051, payload)
    _write_idx(folder / labels, (count,), 2049, gz=False)


def test_reads_synthetic_idx(tmp_path):
    _fake_split(tmp_path)
    x, y = load_fashion_mnist("test", tmp_path)
    assert x.shape == (10000, 28, 28) and x.dtype == torch.uint8
    assert y.dtype == torch.int64 and y[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_missing_files_say_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"apt-get install dataset-fashion-mnist.*VISIONMLP_FASHION_MNIST"):
        load_fashion_mnist("train", tmp_path)


def test_truncated_file_is_named(tmp_path):
    _fake_split(tmp_path, truncate=True)
    with pytest.raises(ValueError, match="truncated"):
        load_fashion_mnist("test", tmp_path)


def test_wrong_magic_is_rejected(tmp_path):
    _fake_split(tmp_path)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", (10000, 28, 28), 2049, bytes(10000 * 28 * 28))
    with pytest.raises(ValueError, match="bad magic"):
        load_fashion_mnist("test", tmp_path)


def test_unknown_split():
    with pytest.raises(ValueError, match="valid splits: train, test"):
        load_fashion_mnist("val")


def test_real_fashion_mnist_when_installed():
    if not (fashion_mnist_dir() / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST is not installed (make data installs it)")
    x, y = load_fashion_mnist("test")
    assert x.shape == (10000, 28, 28)
    assert torch.bincount(y).tolist() == [1000] * 10  # the test set is balanced
    assert len(FASHION_MNIST_CLASSES) == 10


def test_holdout_keeps_the_test_set_for_test_alone(tmp_path, monkeypatch):
    """fashion-mnist:holdout trains and validates on disjoint parts of the training images, the same for every
    run seed, and only its test split reads the test images."""
    from visionmlp.data import build_dataset

    _fake_split(tmp_path, "train", count=60000)
    _fake_split(tmp_path, "test", count=10000)
    monkeypatch.setenv("VISIONMLP_FASHION_MNIST", str(tmp_path))
    parts = {s: build_dataset("fashion-mnist:holdout", s, 0.1, seed=7) for s in ("train", "val", "test")}
    assert [len(parts[s]) for s in ("train", "val", "test")] == [54000, 6000, 10000]
    train, val = set(parts["train"]._index.tolist()), set(parts["val"]._index.tolist())
    assert not train & val and len(train | val) == 60000
    other_seed = build_dataset("fashion-mnist:holdout", "val", 0.1, seed=3)
    assert torch.equal(other_seed._index, parts["val"]._index)
    assert len(build_dataset("fashion-mnist", "val")) == len(build_dataset("fashion-mnist", "test")) == 10000

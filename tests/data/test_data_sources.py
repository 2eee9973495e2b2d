"""Image folders with bad files, CIFAR readers (python pickles and binary), synthetic data, loaders."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from visionmlp.data import ImageFolder, build_dataset, build_loader, find_cifar, load_cifar, set_position


def test_image_folder_skips_and_counts_bad_files(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (10, 8), (i * 40, 10, 200)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    good = (tmp_path / "dog" / "0.png").read_bytes()
    (tmp_path / "dog" / "broken.png").write_bytes(good[: len(good) // 2] + b"\0" * 20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ImageFolder(tmp_path)
    assert ds.classes == ("cat", "dog") and len(ds) == 6
    assert sorted(p.name for p, _ in ds.skipped) == ["broken.png", "notes.txt"]
    assert len(caught) == 2 and "2 files skipped" in ds.summary()
    x, label = ds[4]
    assert x.shape == (3, 8, 10) and label == 1


def test_image_folder_survives_a_file_that_breaks_later(tmp_path):
    (tmp_path / "a").mkdir()
    for i in range(2):
        Image.new("L", (6, 6), 50 * i).save(tmp_path / "a" / f"{i}.png")
    ds = ImageFolder(tmp_path, channels=1)
    (tmp_path / "a" / "0.png").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="could not be decoded"):
        x, _ = ds[0]
    assert x.shape == (1, 6, 6)


def _cifar_python(folder, num_classes=10, n=4):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
    key = b"labels" if num_classes == 10 else b"fine_labels"
    if num_classes == 100:
        names = ["train", "test"]
    for name in names:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), key: list(range(n))}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta_key, meta_file = (b"label_names", "batches.meta") if num_classes == 10 else (b"fine_label_names", "meta")
    (folder / meta_file).write_bytes(pickle.dumps({meta_key: [f"c{i}".encode() for i in range(num_classes)]}))


@pytest.mark.parametrize("num_classes", [10, 100])
def test_cifar_python_layout(tmp_path, num_classes):
    sub = "cifar-10-batches-py" if num_classes == 10 else "cifar-100-python"
    _cifar_python(tmp_path / sub, num_classes)
    images, labels, classes = load_cifar(tmp_path, "train")
    assert images.shape == ((20 if num_classes == 10 else 4), 3, 32, 32) and images.dtype == torch.uint8
    assert labels[:4].tolist() == [0, 1, 2, 3] and len(classes) == num_classes and classes[1] == "c1"
    ds = build_dataset(str(tmp_path), "val")
    assert len(ds) == 4 and ds.channels == 3 and ds[0][0].shape == (3, 32, 32)


def test_cifar_pickle_cannot_run_code(tmp_path):
    _cifar_python(tmp_path / "cifar-10-batches-py")
    folder = tmp_path / "cifar-10-batches-py"

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        load_cifar(tmp_path, "test")


@pytest.mark.parametrize("num_classes", [10, 100])
def test_cifar_binary_layout(tmp_path, num_classes):
    label_bytes = 1 if num_classes == 10 else 2
    rng = np.random.default_rng(1)
    files = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"] if num_classes == 10 else [
        "train.bin", "test.bin"]  # fmt: skip
    for name in files:
        records = rng.integers(0, 256, (3, label_bytes + 3072), dtype=np.uint8)
        records[:, label_bytes - 1] = [2, 0, 1]
        records.tofile(tmp_path / name)
    meta = "batches.meta.txt" if num_classes == 10 else "fine_label_names.txt"
    (tmp_path / meta).write_text("\n".join(f"n{i}" for i in range(num_classes)) + "\n")
    assert find_cifar(tmp_path)[:2] == ("binary", num_classes)
    images, labels, classes = load_cifar(tmp_path, "test")
    assert images.shape == (3, 3, 32, 32) and labels.tolist() == [2, 0, 1] and classes[2] == "n2"
    (tmp_path / files[-1]).write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match="whole number"):
        load_cifar(tmp_path, "test")


def test_synthetic_and_loader_resume_position():
    ds = build_dataset("synthetic:3x8x8", "train")
    assert len(ds) == 1024 and ds[0][0].shape == (3, 8, 8) and torch.equal(ds[5][0], ds[5][0])
    ds.limit(40)
    loader = build_loader(ds, 8, train=True, seed=1)
    set_position(loader, epoch=2)
    full = [y.tolist() for _, y in loader]
    set_position(loader, epoch=2, skip_batches=3)
    assert [y.tolist() for _, y in loader] == full[3:]
    with pytest.raises(FileNotFoundError, match="neither"):
        build_dataset("no/such/place", "train")


def _folder(root, classes=("a", "b"), per_class=10):
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("layout", ["flat", "train-only"])
def test_an_image_folder_without_a_validation_folder_holds_out_a_seeded_part(tmp_path, layout):
    root = tmp_path / "imf"
    _folder(root / "train" if layout == "train-only" else root)
    train, val = (build_dataset(str(root), split, 0.2, seed=3) for split in ("train", "val"))
    assert train.classes == val.classes == ("a", "b")  # never "train" taken for a class
    train_files = {train.samples[i][0] for i in train._view().tolist()}
    val_files = {val.samples[i][0] for i in val._view().tolist()}
    assert len(val_files) == 4 and len(train_files) == 16 and not train_files & val_files  # never the same images
    assert "4 of them (20%, seed 3) held out for validation" in val.summary()
    again = build_dataset(str(root), "val", 0.2, seed=3)
    assert again._view().tolist() == val._view().tolist()  # seeded: a resumed run validates on the same images
    assert build_dataset(str(root), "val", 0.2, seed=4)._view().tolist() != val._view().tolist()
    with pytest.raises(ValueError, match="leaves no image on one side; change --val-split"):
        build_dataset(str(root), "val", 0.01)


def test_a_validation_folder_is_used_as_it_is(tmp_path):
    _folder(tmp_path / "train")
    _folder(tmp_path / "val", per_class=3)
    train, val = build_dataset(str(tmp_path), "train"), build_dataset(str(tmp_path), "val")
    assert (len(train), len(val)) == (20, 6) and train.held_out is None and val.held_out is None

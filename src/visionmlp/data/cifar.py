"""CIFAR-10 / CIFAR-100 from a local copy, in either of the layouts the authors distribute.

* python: ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` and
  ``cifar-100-python/{train, test, meta}``, pickled dicts of numpy arrays. They are read with an
  unpickler that can build only plain containers and numpy arrays, then checked against the known dict
  structure: a pickle naming any other callable is refused, so a planted file cannot run code.
* binary: ``cifar-10-batches-bin/{data_batch_1..5, test_batch}.bin`` (1 label byte + 3072 pixel bytes per
  record) and ``cifar-100-binary/{train, test}.bin`` (coarse and fine label bytes + 3072).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

_PIXELS = 3 * 32 * 32
# (layout, classes) -> (sub folder, train files, test files, meta file)
_LAYOUTS = {
    ("python", 10): ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "batches.meta"),
    ("python", 100): ("cifar-100-python", ["train"], ["test"], "meta"),
    ("binary", 10): (
        "cifar-10-batches-bin", [f"data_batch_{i}.bin" for i in range(1, 6)], ["test_batch.bin"], "batches.meta.txt",
    ),
    ("binary", 100): ("cifar-100-binary", ["train.bin"], ["test.bin"], "fine_label_names.txt"),
}  # fmt: skip
# The only globals a CIFAR pickle needs: numpy's array reconstruction (module moved in numpy 2).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR pickle holds only numpy arrays")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        obj = _ArrayUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError) as err:
        raise ValueError(f"{path} is not a CIFAR python batch ({err})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, a CIFAR python batch holds a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def find_cifar(root: str | Path) -> tuple[str, int, Path] | None:
    """``(layout, num_classes, folder)`` of a CIFAR copy at ``root`` or in its usual sub folder, else None."""
    root = Path(root)
    for (layout, classes), (sub, train, _, _) in _LAYOUTS.items():
        for folder in (root, root / sub):
            if (folder / train[0]).is_file():
                return layout, classes, folder
    return None


def load_cifar(root: str | Path, split: str = "train") -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Images ``(N, 3, 32, 32)`` uint8, labels ``(N,)`` int64 and class names of a local CIFAR copy."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown CIFAR split {split!r}; valid splits: train, test")
    found = find_cifar(root)
    if found is None:
        raise FileNotFoundError(
            f"no CIFAR-10/100 files in {root}: expected the python layout (data_batch_1 ... or train/test/meta) "
            "or the binary layout (data_batch_1.bin ... or train.bin/test.bin)"
        )
    layout, num_classes, folder = found
    _, train_files, test_files, meta = _LAYOUTS[(layout, num_classes)]
    files = [folder / name for name in (train_files if split == "train" else test_files)]
    missing = [str(f) for f in files + [folder / meta] if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"CIFAR-{num_classes} copy in {folder} is incomplete: missing {', '.join(missing)}")
    read = _read_python_batch if layout == "python" else _read_binary_batch
    parts = [read(f, num_classes) for f in files]
    images = np.concatenate([p[0] for p in parts]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([p[1] for p in parts])
    classes = _read_classes(folder / meta, layout, num_classes)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), classes


def _read_python_batch(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    key = "labels" if num_classes == 10 else "fine_labels"
    data, labels = batch.get("data"), batch.get(key)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _PIXELS:
        raise ValueError(f"{path}: 'data' must be a uint8 array of shape (N, {_PIXELS})")
    labels = np.asarray(labels if labels is not None else [], dtype=np.int64)
    return data, _check_labels(path, labels, len(data), num_classes)


def _read_binary_batch(path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    label_bytes = 1 if num_classes == 10 else 2
    record = label_bytes + _PIXELS
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % record:
        raise ValueError(f"{path} holds {raw.size} bytes, not a whole number of {record}-byte CIFAR records")
    raw = raw.reshape(-1, record)
    labels = raw[:, label_bytes - 1].astype(np.int64)  # CIFAR-100 records: coarse label, then fine label
    return raw[:, label_bytes:], _check_labels(path, labels, len(raw), num_classes)


def _check_labels(path: Path, labels: np.ndarray, count: int, num_classes: int) -> np.ndarray:
    if labels.shape != (count,) or (count and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ValueError(f"{path}: expected {count} labels in 0..{num_classes - 1}")
    return labels


def _read_classes(path: Path, layout: str, num_classes: int) -> tuple[str, ...]:
    if layout == "python":
        meta = _unpickle(path)
        names = meta.get("label_names" if num_classes == 10 else "fine_label_names")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names or []]
    else:
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != num_classes:
        raise ValueError(f"{path} names {len(names)} classes, CIFAR-{num_classes} has {num_classes}")
    return tuple(names)

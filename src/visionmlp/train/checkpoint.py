"""Checkpoints that survive a crash at any moment and resume a run exactly.

A checkpoint is one ``torch.save`` dict of tensors and plain values (model, optimizer, EMA, step
counters, the RNG states of torch, CUDA, numpy and Python, the config, the summary so far); it loads
with ``weights_only=True``, so opening one never runs code. ``last.pth`` is rewritten atomically at
each save and ``best.pth`` copied from it when the validation score improves; a process killed while
writing leaves the previous ``last.pth`` whole and at most a stray temporary file, which the next
saver in that folder removes.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import torch

from ..models import build_model
from ..models._weights import TRAIN_FORMAT, load_weights_only, sniff_container
from ..utils import atomic_path, pause_point

LAST, BEST = "last.pth", "best.pth"
CHECKPOINT_FORMAT = TRAIN_FORMAT + "1"


def seed_everything(seed: int) -> None:
    """Seed the global RNGs of torch (all devices), numpy and Python: model initialisation, dropout."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def capture_rng() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": random.getstate(),
    }  # fmt: skip
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        pause_point("checkpoint")


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder's ``last.pth``."""
    path = Path(path)
    if path.is_dir():
        path = path / LAST
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; pass a .pth file written by `visionmlp train` or its folder")
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint (weights-only: a pickle that would run code is refused)."""
    path = resolve_checkpoint(path)
    if sniff_container(path) == "safetensors":
        raise ValueError(
            f"{path} holds model weights (safetensors), not a training checkpoint; load it with "
            "create_model(name, pretrained=path), or pass the run folder or .pth that `visionmlp train` wrote"
        )
    ckpt = load_weights_only(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a checkpoint written by `visionmlp train` (no {CHECKPOINT_FORMAT!r} format tag); "
            "model weights load with create_model(name, pretrained=path) or `visionmlp convert`"
        )
    return ckpt


class CheckpointSaver:
    """Keeps ``last.pth`` (every save) and ``best.pth`` (saves flagged best) in ``folder``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        for name in (LAST, BEST):  # left by a process killed mid-write; one run owns its folder
            for stray in self.folder.glob(f".{name}.*.tmp"):
                stray.unlink(missing_ok=True)

    def save(self, state: dict, is_best: bool = False) -> Path:
        last = self.folder / LAST
        save_checkpoint(last, state)
        if is_best:
            with atomic_path(self.folder / BEST) as tmp:
                shutil.copyfile(last, tmp)
        return last


def model_from_checkpoint(ckpt: dict, use_ema: bool = False, wrap=None):
    """Rebuild the trained model (eval mode) from a checkpoint's ``meta`` and weights; ``use_ema`` takes
    the averaged weights when the run kept them. ``wrap(backbone, meta)`` builds the trained model around the
    registered one first, for runs that trained more than it (a dense task's head)."""
    meta = ckpt.get("meta") or {}
    if "model" not in meta:
        raise ValueError("the checkpoint does not say which model it holds (no meta.model); was it written by train?")
    model = build_model(meta["model"], **meta.get("build_kwargs", {}))
    if wrap is not None:
        model = wrap(model, meta)
    if use_ema and ckpt.get("ema") is None:
        raise ValueError("the checkpoint has no EMA weights (the run was trained without --ema)")
    model.load_state_dict(ckpt["ema"] if use_ema else ckpt["model"])
    return model.eval()

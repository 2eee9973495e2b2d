"""The working tree's models timed against an earlier git revision's, side by side in one process
(``visionmlp benchmark MODEL... --revision REV``): how a speed change is measured before it is kept.

REV's ``src/visionmlp`` is extracted with ``git archive`` into a temporary folder and imported as a second package
(every import inside the package is relative, so both versions live in one process). Each model is built by the
working tree, its weights loaded into REV's build of the same name, both put on their inference path (fused and
packed where the revision can) or left in training mode, and checked to compute the same features; then the two
are timed in alternating rounds, so each round's ratio sees one machine load. Ratio = REV time / working-tree
time: above 1 the working tree is faster. The first model of a process ran slower for its first rounds in trials
(1.14x on a change that measured 1.01x after another model): list a model to warm up with first.
"""

from __future__ import annotations

import copy
import importlib
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from types import ModuleType

import torch

from ..models import build_model, get_entry
from .throughput import Step, alternate, inference_step, per_round_ratio, training_step, with_autocast

#: the checkout this package was imported from (the working tree an editable install runs)
CHECKOUT = Path(__file__).resolve().parents[3]


@contextmanager
def revision_package(rev: str, root: Path = CHECKOUT) -> Iterator[ModuleType]:
    """REV's ``visionmlp`` package, imported as ``visionmlp_<sha>`` from a copy extracted into a temporary folder
    (removed, with its modules, on exit). Raises a ValueError naming the problem when ``root`` is no git
    checkout or REV is not a revision of it."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=root, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        detail = str(getattr(err, "stderr", "") or err).strip()
        raise ValueError(f"--revision {rev}: not a revision of a git checkout at {root} ({detail})") from None
    name = f"visionmlp_{sha.stdout.strip()}"
    with TemporaryDirectory() as tmp:
        archive = Path(tmp) / "src.tar"
        subprocess.run(["git", "archive", "-o", archive, rev, "src/visionmlp"], cwd=root, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        (Path(tmp) / "src" / "visionmlp").rename(Path(tmp) / name)
        sys.path.insert(0, tmp)
        try:
            yield importlib.import_module(name)
        finally:
            sys.path.remove(tmp)
            for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
                del sys.modules[module]


def _prepare(model: torch.nn.Module, dtype: torch.dtype, train: bool) -> torch.nn.Module:
    model = model.to(dtype)
    if train:
        return model.train()
    model = model.eval().fuse()
    return model.pack() if hasattr(model, "pack") else model


def model_steps(
    old_package: ModuleType, name: str, batch: int, dtype: torch.dtype, train: bool, amp: bool = False
) -> tuple[dict[str, Step], float, float]:
    """Both builds of ``name`` with the same weights: their steps (under bfloat16 autocast with ``amp``), the
    features' max abs difference and scale (computed without autocast)."""
    torch.manual_seed(0)
    new = build_model(name)
    old = old_package.create_model(name)
    old.load_state_dict(new.state_dict())
    new, old = _prepare(new, dtype, train), _prepare(old, dtype, train)
    x = torch.randn(batch, *get_entry(name).pretrained_cfg.input_size, dtype=dtype)
    with torch.inference_mode():  # each side from the same RNG state: equal drop-path masks in training mode
        torch.manual_seed(1)
        ref = old.forward_features(x).float()
        torch.manual_seed(1)
        diff = (new.forward_features(x).float() - ref).abs().max().item()

    def step(model) -> Step:
        autocast = torch.autocast(x.device.type, dtype=torch.bfloat16) if amp else None
        if train:  # each side its own copy: the optimizer steps change the weights
            model = copy.deepcopy(model)
            return training_step(model, x, model.num_classes, autocast)
        return with_autocast(inference_step(model, x), autocast)

    return {"revision": step(old), "working tree": step(new)}, diff, ref.abs().max().item()


def compare_revision(
    rev: str, names: list[str], dtype: torch.dtype, batch: int, train: bool, rounds: int, warmup: int, amp: bool = False
) -> Iterator[dict]:
    """One row per model: the per-round ratio REV time / working-tree time, both medians and the parity check."""
    with revision_package(rev) as old_package:
        for name in names:
            steps, diff, scale = model_steps(old_package, name, batch, dtype, train, amp)
            stats = alternate(steps, rounds=rounds, warmup=warmup, sync=lambda: None)
            yield {
                "model": name,
                "ratio": per_round_ratio(stats["revision"], stats["working tree"]),
                "revision_s": stats["revision"].median,
                "working_tree_s": stats["working tree"].median,
                "max_abs_diff": diff,
                "feature_scale": scale,
            }

"""Time the working tree's models against an earlier git revision's, side by side in one process.

Usage: python scripts/bench_revision.py REV [--models NAME ...] [--dtypes float32 bfloat16] [--batch B]
       [--threads N] [--rounds R] [--train]

How a speed change is measured before it is kept (``docs/results/performance.md``, speed work log): REV's
``src/visionmlp`` is extracted with ``git archive`` into a temporary folder and imported as a second package
(every import inside the package is relative, so both versions live in one process). Each model is built by
the working tree, its weights loaded into REV's build of the same name, both fused (and packed for inference
where the revision has ``pack()``) and checked to compute the same features; then the two are timed in
alternating rounds, so each round's ratio sees one machine load. Ratio = REV time / working-tree time: above
1 the working tree is faster. The first model of a process ran slower for its first rounds in trials (1.14x on a
change that measured 1.01x after another model): list a model to warm up with first.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import torch

import visionmlp
from visionmlp.bench.throughput import Stats, Step, alternate, inference_step, per_round_ratio, training_step
from visionmlp.models import get_entry

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["mixer_s16_224", "resmlp_12_224", "gmlp_s16_224"]


def import_revision(rev: str, into: Path):
    """REV's ``visionmlp`` package, imported as ``visionmlp_<sha>`` from a copy extracted into ``into``."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True, text=True)
    name = f"visionmlp_{sha.stdout.strip()}"
    archive = into / "src.tar"
    subprocess.run(["git", "archive", "-o", archive, rev, "src/visionmlp"], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    (into / "src" / "visionmlp").rename(into / name)
    sys.path.insert(0, str(into))
    return importlib.import_module(name)


def prepare(model: torch.nn.Module, dtype: torch.dtype, train: bool) -> torch.nn.Module:
    model = model.to(dtype)
    if train:
        return model.train()
    model = model.eval().fuse()
    return model.pack() if hasattr(model, "pack") else model


def model_steps(old_package, name: str, batch: int, dtype: torch.dtype, train: bool):
    """Both builds of ``name`` with the same weights: their steps, the features' max abs difference and scale."""
    torch.manual_seed(0)
    new = visionmlp.create_model(name)
    old = old_package.create_model(name)
    old.load_state_dict(new.state_dict())
    new, old = prepare(new, dtype, train), prepare(old, dtype, train)
    x = torch.randn(batch, *get_entry(name).pretrained_cfg.input_size, dtype=dtype)
    with torch.inference_mode():
        ref = old.forward_features(x).float()
        diff = (new.forward_features(x).float() - ref).abs().max().item()

    def step(model) -> Step:
        if train:  # each side its own copy: the optimizer steps change the weights
            model = copy.deepcopy(model)
            return training_step(model, x, model.num_classes, None)
        return inference_step(model, x)

    return {"revision": step(old), "working tree": step(new)}, diff, ref.abs().max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the git revision to compare against (e.g. HEAD, HEAD~1, a commit)")
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--dtypes", nargs="*", default=["float32", "bfloat16"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds before each model's timed ones")
    parser.add_argument("--train", action="store_true", help="time a training step instead of inference")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kind = "training step" if args.train else "inference"
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, {kind}; "
          f"ratio = {args.rev} time / working-tree time (median, range)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        old_package = import_revision(args.rev, Path(tmp))
        for dtype in (getattr(torch, d) for d in args.dtypes):
            for name in args.models:
                steps, diff, scale = model_steps(old_package, name, args.batch, dtype, args.train)
                stats: dict[str, Stats] = alternate(steps, rounds=args.rounds, warmup=args.warmup, sync=lambda: None)
                r = per_round_ratio(stats["revision"], stats["working tree"])
                times = ", ".join(f"{k} {1e3 * v.median:.0f} ms" for k, v in stats.items())
                check = f"max abs diff {diff:.2g} (features up to {scale:.2g})"
                print(f"{name} {str(dtype)[6:]}: {r:.2f}; {times}; {check}", flush=True)


if __name__ == "__main__":
    main()

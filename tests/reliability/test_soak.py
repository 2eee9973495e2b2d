"""Soak: train, checkpoint, validate through the CLI, in a loop for ``VISIONMLP_SOAK_SECONDS`` (default 120),
and check that the process neither grows (RSS) nor leaks file handles (``/proc/self/fd``) after warm-up.

Outside the default suite: ``make soak``.
"""

import gc
import os
import shutil
import time
from pathlib import Path

import pytest
import torch

import visionmlp
from visionmlp.cli import main
from visionmlp.data import build_dataset
from visionmlp.train import TrainConfig, Trainer

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")]

TINY = {"embed_dim": 16, "num_blocks": 1, "tokens_mlp_dim": 8, "channels_mlp_dim": 16}
WARMUP_ROUNDS = 3
RSS_BOUND = 48 * 2**20  # growth allowed after warm-up: allocator noise, far below one leaked copy per round


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _round(folder: Path, seed: int) -> None:
    """One train + checkpoint + validate cycle, as a long-running service or notebook would repeat it."""
    torch.manual_seed(seed)
    model = visionmlp.create_model("mixer_s4_28", num_classes=10, **TINY)
    train, val = build_dataset("synthetic", "train").limit(64), build_dataset("synthetic", "val").limit(32)
    meta = {"model": "mixer_s4_28", "build_kwargs": dict(model.build_kwargs), "classes": list(train.classes),
            "input": {k: v for k, v in model.pretrained_cfg.to_dict().items() if k != "weights"}}  # fmt: skip
    cfg = TrainConfig(epochs=2, batch_size=16, workers=0, progress=False, data="synthetic", ema=True, seed=seed)
    Trainer(cfg, model, train, val, output=folder, meta=meta, log=lambda _m: None).fit()
    assert main(["validate", str(folder), "--limit", "32", "--output", str(folder)]) == 0
    shutil.rmtree(folder)


def test_soak_train_and_evaluate_without_leaks(tmp_path, capsys):
    seconds = float(os.environ.get("VISIONMLP_SOAK_SECONDS", "120"))
    deadline = time.monotonic() + seconds
    rounds, samples = 0, []
    while rounds < WARMUP_ROUNDS + 3 or time.monotonic() < deadline:
        _round(tmp_path / "run", rounds)
        capsys.readouterr()  # the CLI's report: keep the captured output from growing with the rounds
        gc.collect()
        rounds += 1
        samples.append((_rss(), _fds()))
    rss0, fds0 = samples[WARMUP_ROUNDS - 1]
    grown = max(rss for rss, _ in samples[WARMUP_ROUNDS:]) - rss0
    print(f"soak: {rounds} rounds in {seconds:.0f} s, RSS {rss0 / 2**20:.0f} MiB after warm-up, "
          f"max growth {grown / 2**20:.1f} MiB, fds {fds0} -> {samples[-1][1]}")  # fmt: skip
    assert grown < RSS_BOUND, f"RSS grew by {grown / 2**20:.1f} MiB over {rounds} rounds"
    assert all(fds == fds0 for _, fds in samples[WARMUP_ROUNDS:]), [fds for _, fds in samples]

"""Crash and resume through the real command: ``visionmlp train`` subprocesses killed with SIGKILL in the
middle of an epoch and in the middle of writing a checkpoint, then resumed, end with the same weights as an
uninterrupted run, bit for bit; SIGINT and SIGTERM stop at the next step boundary and save.

``VISIONMLP_PAUSE_AT`` (``visionmlp/utils/faults.py``) holds the process at an exact point, so every signal
lands where the test says.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from visionmlp.train import load_checkpoint
from visionmlp.utils.faults import ENV

pytestmark = pytest.mark.skipif(not hasattr(signal, "pause"), reason="POSIX signals")

TINY = "{embed_dim: 16, num_blocks: 1, tokens_mlp_dim: 8, channels_mlp_dim: 16, drop_path_rate: 0.1}"
# 32 images in batches of 16: 2 steps per epoch, 6 in all; drop-path and mixup make every step random.
TRAIN = ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--model-kwargs", TINY, "--epochs", "3",
         "--batch-size", "16", "--limit-train", "32", "--limit-val", "16", "--workers", "0", "--no-progress",
         "--seed", "3", "--mixup", "0.5", "--warmup-epochs", "0.5"]  # fmt: skip
TIMEOUT = 120


def _start(args: list[str], log: Path, pause: str | None = None) -> subprocess.Popen:
    env = {**os.environ, ENV: pause} if pause else {k: v for k, v in os.environ.items() if k != ENV}
    with open(log, "wb") as out:  # stdout and stderr together: the pause marker, the resume line, errors
        return subprocess.Popen([sys.executable, "-m", "visionmlp.cli", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=env)  # fmt: skip


def _wait_paused(proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while "visionmlp: paused at" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run never reached its pause point (exit {proc.returncode}):\n{log.read_text()}")
        time.sleep(0.05)


def _finish(proc: subprocess.Popen, log: Path) -> int:
    rc = proc.wait(TIMEOUT)
    assert "Traceback" not in log.read_text(), log.read_text()
    return rc


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, started once and in the background while the first test interrupts its own."""
    folder = tmp_path_factory.mktemp("reference")
    proc = _start([*TRAIN, "--output", str(folder / "run")], folder / "output.txt")

    def last() -> dict:
        assert _finish(proc, folder / "output.txt") == 0
        return load_checkpoint(folder / "run")

    yield last
    proc.kill()


def _assert_same_run(ckpt: dict, ref: dict) -> None:
    assert ckpt["train_state"]["global_step"] == ref["train_state"]["global_step"] == 6
    for name, value in ref["model"].items():
        assert torch.equal(ckpt["model"][name], value), name
    for key in ("optimizer", "rng"):
        assert repr(ckpt[key]) == repr(ref[key]), key
    timeless = [[{k: v for k, v in row.items() if not k.endswith("_s")} for row in c["train_state"]["rows"]]
                for c in (ckpt, ref)]  # fmt: skip
    assert timeless[0] == timeless[1]


@pytest.mark.parametrize(
    "pause, extra, saved_step",
    [
        ("step:4", ["--checkpoint-every", "1"], 3),  # mid-epoch 2; last.pth from step 3, itself mid-epoch
        ("checkpoint:2", [], 2),  # end of epoch 2: temp file written, not yet renamed over last.pth
    ],
    ids=["sigkill-mid-epoch", "sigkill-mid-checkpoint-write"],
)
def test_sigkill_then_resume_is_bit_identical(tmp_path, reference, pause, extra, saved_step):
    run, log = tmp_path / "run", tmp_path / "output.txt"
    proc = _start([*TRAIN, *extra, "--output", str(run)], log, pause=pause)
    _wait_paused(proc, log)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(TIMEOUT) == -signal.SIGKILL

    assert load_checkpoint(run)["train_state"]["global_step"] == saved_step  # the previous good file, whole
    strays = list(run.glob(".last.pth.*.tmp"))
    assert len(strays) == (1 if pause.startswith("checkpoint") else 0)

    resumed = _start(["train", "--resume", str(run)], log)
    assert _finish(resumed, log) == 0
    assert f"step {saved_step}" in log.read_text()  # "resumed from ... at epoch E, step S"
    assert not list(run.glob(".*.tmp"))  # the killed writer's temp file is cleaned up
    _assert_same_run(load_checkpoint(run), reference())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_sigterm_stop_at_a_step_boundary_and_save(tmp_path, sig):
    run, log = tmp_path / "run", tmp_path / "output.txt"
    proc = _start([*TRAIN, "--output", str(run)], log, pause="step:3")
    _wait_paused(proc, log)
    proc.send_signal(sig)
    assert _finish(proc, log) == 130
    state = load_checkpoint(run)["train_state"]
    assert (state["global_step"], state["epoch"], state["step_in_epoch"]) == (3, 1, 1)  # saved mid-epoch 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_whole_process_group_saves_and_exits_130(tmp_path, sig):
    """What `timeout`, `kill -- -PGID` and batch schedulers send: the data-loader workers get the signal too, and
    must leave the stop to the main process instead of dying under it."""
    run, log = tmp_path / "run", tmp_path / "output.txt"
    args = [*TRAIN, "--workers", "2", "--output", str(run)]  # the last --workers wins
    env = {**os.environ, ENV: "step:3"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "visionmlp.cli", *args], stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)  # fmt: skip
    try:
        _wait_paused(proc, log)
        os.killpg(proc.pid, sig)
        assert _finish(proc, log) == 130
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert load_checkpoint(run)["train_state"]["global_step"] == 3
    assert "killed by signal" not in log.read_text()

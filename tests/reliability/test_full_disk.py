"""A full disk never costs the previous good file: every writer (checkpoints, save_pretrained, summary.csv,
config.yaml, ONNX exports, validation outputs) fails with one error that names the file and says the
previous version is kept, and leaves no temporary file behind.

Each case runs twice: on a real 2 MB tmpfs filled to the last page (when this process may mount one: root
on Linux), and with the fsync inside ``atomic_path`` patched to raise ENOSPC, which is where a file system
with delayed allocation reports it.
"""

import errno
import json
import shutil
import subprocess

import pytest
import torch

import visionmlp
from visionmlp.cli import main
from visionmlp.train import TrainConfig, Trainer
from visionmlp.train.checkpoint import save_checkpoint
from visionmlp.train.logger import RunLogger
from visionmlp.utils import WriteError, atomic
from visionmlp.utils.atomic import atomic_write_text

TINY = {"embed_dim": 16, "num_blocks": 1, "tokens_mlp_dim": 8, "channels_mlp_dim": 16}


class FullDisk:
    """A folder whose disk can be filled: a real tmpfs ("tmpfs"), or ENOSPC raised by a patched fsync
    ("patched"). The tmpfs mode skips where mounting is not allowed; the patched one runs everywhere."""

    def __init__(self, folder, monkeypatch, mode):
        self.folder, self.monkeypatch, self.mode = folder, monkeypatch, mode
        if mode == "tmpfs":
            mount = shutil.which("mount")
            command = [mount or "mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)]
            if not mount or subprocess.run(command, capture_output=True).returncode:
                pytest.skip("cannot mount a tmpfs here (needs root on Linux); the patched mode covers this")

    def fill(self) -> None:
        """From now on, writes in ``folder`` fail with ENOSPC."""
        if self.mode == "patched":
            self.monkeypatch.setattr(atomic, "_fsync", _no_space)
            self.monkeypatch.setattr(atomic, "_no_space", lambda _folder: True)
            return
        with open(self.folder / "filler", "wb", buffering=0) as f:
            try:
                while f.write(b"\0" * 4096):
                    pass
            except OSError as err:
                assert err.errno == errno.ENOSPC

    def unmount(self) -> None:
        if self.mode == "tmpfs":
            # lazy: a failed serialiser's file handle may live on in a traceback until garbage collection
            subprocess.run(["umount", "-l", str(self.folder)], check=True)


def _no_space(_path):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(params=["tmpfs", "patched"])
def disk(tmp_path, monkeypatch, request):
    folder = tmp_path / "disk"
    folder.mkdir()
    full = FullDisk(folder, monkeypatch, request.param)
    yield full
    full.unmount()


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "filler"}


def _write_checkpoint(folder):
    save_checkpoint(folder / "last.pth", {"w": torch.randn(20_000)})


def _write_pretrained(folder):
    visionmlp.create_model("mixer_s4_28", **TINY).save_pretrained(folder)


def _write_summary(folder):
    RunLogger(folder, log=lambda _m: None).epoch([{"epoch": 1, "val_top1": torch.rand(1).item()}] * 50)


def _write_config(folder):
    atomic_write_text(folder / "config.yaml", "lr: 0.001\n" * 2000)


def _write_onnx(folder):
    pytest.importorskip("onnxscript")
    from visionmlp.export.onnx import export_onnx

    export_onnx(visionmlp.create_model("mixer_s4_28", **TINY), folder / "model.onnx")


@pytest.mark.parametrize(
    "write, target",
    [
        (_write_checkpoint, "last.pth"),
        (_write_pretrained, "model.safetensors"),
        (_write_summary, "summary.csv"),
        (_write_config, "config.yaml"),
        (_write_onnx, "model.onnx"),
    ],
    ids=["checkpoint", "save_pretrained", "summary.csv", "config.yaml", "onnx"],
)
def test_full_disk_keeps_previous_file(disk, write, target):
    write(disk.folder)
    before = _snapshot(disk.folder)
    disk.fill()
    with pytest.raises(WriteError, match=rf"could not write .*{target} \(.*\); the previous version is kept") as err:
        write(disk.folder)
    assert err.value.errno == errno.ENOSPC and "No space left on device" in str(err.value)
    assert _snapshot(disk.folder) == before  # every file as it was, and no temporary file left


@pytest.fixture
def tiny_run(tmp_path):
    """A checkpoint written by the trainer (one epoch on 32 synthetic images)."""
    from visionmlp.data import build_dataset

    torch.manual_seed(0)
    model = visionmlp.create_model("mixer_s4_28", num_classes=10, **TINY)
    cfg = TrainConfig(epochs=1, batch_size=16, workers=0, progress=False, data="synthetic")
    train, val = build_dataset("synthetic", "train").limit(32), build_dataset("synthetic", "val").limit(16)
    meta = {"model": "mixer_s4_28", "build_kwargs": dict(model.build_kwargs), "classes": list(train.classes),
            "input": {k: v for k, v in model.pretrained_cfg.to_dict().items() if k != "weights"}}  # fmt: skip
    Trainer(cfg, model, train, val, output=tmp_path / "run", meta=meta, log=lambda _m: None).fit()
    return tmp_path / "run"


def test_cli_validate_on_a_full_disk_exits_1_naming_the_file(disk, tiny_run, capsys):
    argv = ["validate", str(tiny_run), "--limit", "8", "--output", str(disk.folder)]
    assert main(argv) == 0
    before = _snapshot(disk.folder)
    assert {"validation.json", "confusion.png"} <= set(before)
    disk.fill()
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "validation.json" in err and "the previous version is kept; free some disk space" in err
    assert _snapshot(disk.folder) == before
    assert json.loads(before["validation.json"])["images"] == 8

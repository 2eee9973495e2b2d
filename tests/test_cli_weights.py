"""``visionmlp convert`` and ``visionmlp export onnx`` through the CLI entry point."""

import numpy as np
import pytest
import torch

import visionmlp
from visionmlp.cli import main

from official import load_fixture, max_abs_diff

FLAX = "fixtures/official/flax_mixer_p8_d2_64.safetensors"
FLAX_ARGS = [
    "img_size=64",
    "patch_size=8",
    "num_blocks=2",
    "embed_dim=128",
    "tokens_mlp_dim=64",
    "channels_mlp_dim=512",
    "num_classes=10",
]


def _args(items):
    return [a for item in items for a in ("--arg", item)]


def test_convert_flax_npz_auto(shared, tmp_path, capsys):
    meta, state, x, ref = load_fixture(shared / FLAX)
    npz = tmp_path / "Mixer.npz"
    np.savez(npz, **{k: v.numpy() for k, v in state.items()})
    rc = main(
        ["convert", "--from", "auto", "--model", "mixer_s16_224", *_args(FLAX_ARGS), str(npz), str(tmp_path / "out")]
    )
    assert rc == 0
    line = capsys.readouterr().out.strip()
    assert "format flax_mixer, 30 tensors, 307,338 parameters, key issues: none" in line
    model = visionmlp.create_model("mixer_s16_224", pretrained=tmp_path / "out")
    with torch.no_grad():
        assert max_abs_diff(model(x), ref) <= 1e-4


def test_convert_wrong_format_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "w.pth"
    torch.save({"foo.weight": torch.zeros(2)}, path)
    rc = main(["convert", "--model", "mixer_s4_32", str(path), str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "unexpected 1: foo.weight" in err
    assert main(["convert", "--model", "mixer_s4_32", "--arg", "oops", str(path), str(tmp_path / "o")]) == 2
    assert "--arg expects KEY=VALUE" in capsys.readouterr().err


def test_export_onnx_from_checkpoint(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    tiny = ["img_size=32", "patch_size=8", "embed_dim=32", "num_blocks=2", "tokens_mlp_dim=16", "channels_mlp_dim=64"]
    model = visionmlp.create_model("mixer_s16_224", **{k: int(v) for k, v in (a.split("=") for a in tiny)})
    model.save_pretrained(tmp_path / "ckpt")
    out = tmp_path / "model.onnx"
    rc = main(["export", "onnx", "--model", "mixer_s16_224", "--checkpoint", str(tmp_path / "ckpt"), "--out", str(out)])
    assert rc == 0 and out.stat().st_size > 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "onnxruntime parity max abs diff" in line
    assert float(line.rsplit(" ", 1)[1]) <= 1e-4

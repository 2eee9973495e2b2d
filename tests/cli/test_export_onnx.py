"""Every registered family exports to ONNX with a dynamic batch axis and matches onnxruntime."""

import pytest
import torch

import visionmlp
from visionmlp.models import get_entry

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from visionmlp.cli import main  # noqa: E402


def _smallest(family):
    """The family's variant with the fewest parameters at its ``tiny`` overrides (built on meta)."""
    names = visionmlp.list_models(family=family)

    def size(name):
        model = visionmlp.create_model(name, device="meta", **get_entry(name).tiny)
        return sum(p.numel() for p in model.parameters())

    return min(names, key=size)


@pytest.mark.parametrize("family", visionmlp.list_families())
def test_onnx_export_from_the_cli_matches_torch(tmp_path, capsys, family):
    """One small model of every family: saved, exported by ``visionmlp export onnx``, parity <= 1e-4."""
    name = _smallest(family)
    torch.manual_seed(0)
    model = visionmlp.create_model(name, **get_entry(name).tiny).eval()
    with torch.no_grad():  # zero-initialised heads (Mixer, gMLP) would hide a wrong graph behind zeros
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    model.save_pretrained(tmp_path / "ckpt")
    out = tmp_path / f"{name}.onnx"
    assert main(["export", "onnx", "--model", name, "--checkpoint", str(tmp_path / "ckpt"), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "dynamic batch, onnxruntime parity max abs diff" in line, line
    diff = float(line.rsplit(" ", 1)[1])
    print(f"{family} ({name}): onnxruntime max abs diff {diff:.2e}")
    assert diff <= 1e-4

"""Every registered family exports to ONNX with a dynamic batch axis and matches onnxruntime."""

import pytest
import torch

import visionmlp
from visionmlp.models import get_entry

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from visionmlp.export.onnx import export_onnx, onnx_parity  # noqa: E402


def _smallest(family):
    """The family's variant with the fewest parameters at its ``tiny`` overrides (built on meta)."""
    names = visionmlp.list_models(family=family)

    def size(name):
        model = visionmlp.create_model(name, device="meta", **get_entry(name).tiny)
        return sum(p.numel() for p in model.parameters())

    return min(names, key=size)


@pytest.mark.parametrize("family", visionmlp.list_families())
def test_onnx_export_matches_torch(tmp_path, family):
    name = _smallest(family)
    torch.manual_seed(0)
    model = visionmlp.create_model(name, **get_entry(name).tiny).eval()
    with torch.no_grad():  # zero-initialised heads (Mixer, gMLP) would hide a wrong graph behind zeros
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    diff = onnx_parity(model, path, batch_sizes=(1, 3))
    print(f"{family} ({name}): onnxruntime max abs diff {diff:.2e}")
    assert diff <= 1e-4

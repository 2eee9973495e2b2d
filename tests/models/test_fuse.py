"""``model.fuse()`` computes the same function as the unfused model (float32, eval, random weights)."""

import copy

import pytest
import torch
from torch import nn

import visionmlp
from helpers.randomised import ONE_PER_FAMILY, randomised, sample_input
from visionmlp.layers import Affine
from visionmlp.models import get_entry

# family -> the layer type fuse() folds away (ResMLP keeps its final Affine: forward_features returns it)
FUSABLE = {"resmlp": (Affine, "blocks"), "convmlp": (nn.BatchNorm2d, ""), "resnet": (nn.BatchNorm2d, "")}


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_fused_matches_unfused(name):
    model = randomised(name)
    reference = copy.deepcopy(model)
    assert model.fuse() is model
    x = sample_input(model)
    with torch.no_grad():
        expected = reference(x)
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.forward_features(x), reference.forward_features(x), atol=1e-5, rtol=1e-5)
        assert model.fuse() is model  # idempotent: nothing left to fold
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)
    family = get_entry(name).family
    if family in FUSABLE:
        kind, where = FUSABLE[family]
        assert not any(isinstance(m, kind) for m in model.get_submodule(where).modules())


def test_fused_resmlp_at_full_size_grid():
    torch.manual_seed(0)
    model = visionmlp.create_model("resmlp_12_224", depth=2, embed_dim=64).eval()
    reference = copy.deepcopy(model)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(
            model.fuse().forward_features(x), reference.forward_features(x), atol=1e-5, rtol=1e-5
        )


def test_fuse_needs_eval_mode():
    model = visionmlp.create_model("resmlp_s4_28").train()
    with pytest.raises(RuntimeError, match="eval"):
        model.fuse()


def test_fused_resmlp_rejects_other_grids():
    model = visionmlp.create_model("resmlp_s4_32", dynamic_img_size=True).eval().fuse()
    with pytest.raises(ValueError, match="native"):
        model(torch.randn(1, 3, 64, 64))

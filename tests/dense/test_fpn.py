"""The FPN neck: exact sizes at odd and non-square inputs, one width, gradients through every level."""

import pytest
import torch

import visionmlp
from visionmlp.dense import FPN, FeaturePyramid
from visionmlp.models import get_entry


def _grads(module, loss):
    module.zero_grad(set_to_none=True)
    loss.backward()
    return {n for n, p in module.named_parameters() if p.grad is not None}


def _check_pyramid(neck, x, width):
    inputs = neck.backbone(x)
    used_by_backbone = _grads(neck.backbone, sum(f.sum() for f in inputs))
    outs = neck(x)
    assert len(outs) == len(inputs) == len(neck.feature_info)
    for out, fmap, info in zip(outs, inputs, neck.feature_info, strict=True):
        assert out.shape == (x.shape[0], width, *fmap.shape[-2:])
        assert info["num_chs"] == width
    # A loss on the finest level alone reaches every backbone parameter that its maps depend on and
    # every lateral conv, the coarsest ones through the top-down pathway.
    reached = _grads(neck, outs[0].pow(2).mean())
    assert {f"backbone.{n}" for n in used_by_backbone} <= reached
    assert {n for n, _ in neck.fpn.lateral_convs.named_parameters(prefix="fpn.lateral_convs")} <= reached
    assert neck.fpn.lateral_convs[-1].weight.grad.abs().sum() > 0


def test_resnet_backbone_odd_non_square_input():
    torch.manual_seed(0)
    backbone = visionmlp.create_model("resnet18", **get_entry("resnet18").tiny, features_only=True)
    neck = FeaturePyramid(backbone, out_channels=16)
    assert neck.feature_info.reduction() == [4, 8, 16, 32]
    _check_pyramid(neck, torch.randn(2, 3, 100, 76), 16)


def test_isotropic_backbone_all_levels_one_stride():
    torch.manual_seed(0)
    backbone = visionmlp.create_model(
        "mixer_s4_32",
        embed_dim=32,
        num_blocks=8,
        tokens_mlp_dim=16,
        channels_mlp_dim=64,
        dynamic_img_size=True,
        features_only=True,
        out_indices=[1, 3, 5, 7],
    )
    neck = FeaturePyramid(backbone, out_channels=8)
    _check_pyramid(neck, torch.randn(2, 3, 36, 28), 8)


def test_fpn_upsamples_to_each_lateral_exactly():
    sizes = [(25, 19), (13, 10), (7, 5), (4, 3)]
    fpn = FPN([4, 8, 12, 16], out_channels=6)
    outs = fpn([torch.randn(1, c, *s) for c, s in zip([4, 8, 12, 16], sizes, strict=True)])
    assert [tuple(o.shape) for o in outs] == [(1, 6, *s) for s in sizes]


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="features_only=True"):
        FeaturePyramid(visionmlp.create_model("resnet18", **get_entry("resnet18").tiny))
    with pytest.raises(ValueError, match="feature_info.channels"):
        FPN([4, 8])([torch.randn(1, 4, 8, 8), torch.randn(1, 4, 4, 4)])
    with pytest.raises(ValueError, match="at least one"):
        FPN([])

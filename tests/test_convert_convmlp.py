"""The official ConvMLP code's logits are reproduced from its own state dict (fixture convmlp_b222_64)."""

import pytest
import torch

import visionmlp
from visionmlp.convert import StateDictMismatchError, convert_state_dict, load_converted

from official import constructor_kwargs, load_fixture, max_abs_diff

FIXTURE = "convmlp_b222_64.safetensors"


@pytest.fixture(scope="module")
def fixture(shared):
    return load_fixture(shared / "fixtures" / "official" / FIXTURE)


def _model(meta):
    # The official call names the same hyper-parameters: ConvMLP(blocks, dims, mlp_ratios, channels, ...).
    size = int(meta["img_size"])
    return visionmlp.create_model("convmlp_s", img_size=size, **constructor_kwargs(meta)).eval()


def test_logits_match_official(fixture):
    meta, state, x, logits = fixture
    model = load_converted(_model(meta), convert_state_dict("convmlp", state), "converted convmlp")
    with torch.no_grad():
        out = model(x)
    assert out.shape == logits.shape
    assert max_abs_diff(out, logits) <= 1e-4


def test_converted_model_takes_other_sizes(fixture):
    meta, state, x, _ = fixture
    model = load_converted(_model(meta), convert_state_dict("convmlp", state))
    with torch.no_grad():
        out = model(torch.randn(1, x.shape[1], 48, 80))
        maps = visionmlp.create_model("convmlp_s", **constructor_kwargs(meta), features_only=True).eval()(
            torch.randn(1, x.shape[1], 48, 80)
        )
    assert out.shape == (1, int(meta["num_classes"])) and torch.isfinite(out).all()
    assert [tuple(m.shape[-2:]) for m in maps] == [(12, 20), (6, 10), (3, 5), (2, 3)]


def test_missing_key_is_named(fixture):
    _, state, _, _ = fixture
    state = dict(state)
    del state["stages.1.blocks.0.connect_norm.bias"]
    with pytest.raises(StateDictMismatchError, match=r"stages\.1\.blocks\.0\.connect_norm\.bias"):
        convert_state_dict("convmlp", state)


def test_unexpected_key_is_named(fixture):
    _, state, _, _ = fixture
    state = {**state, "stages.2.downsample_mlp.downsample.weight": torch.zeros(1)}
    with pytest.raises(StateDictMismatchError, match=r"unexpected 1: stages\.2\.downsample_mlp\.downsample\.weight"):
        convert_state_dict("convmlp", state)

"""Official Vision Permutator weights -> visionmlp ``vip``: same logits as the official code."""

import pytest
import torch

from visionmlp.convert import StateDictMismatchError, convert_state_dict, load_converted
from visionmlp.models.vip import VisionPermutator

from official import constructor_kwargs, load_fixture, max_abs_diff

FIXTURE = "vip_p4_l2222_64.safetensors"


@pytest.fixture(scope="module")
def fixture(shared):
    return load_fixture(shared / "fixtures" / "official" / FIXTURE)


def _model(meta):
    kwargs = constructor_kwargs(meta)
    assert kwargs.pop("mlp_fn") == "WeightedPermuteMLP"
    return VisionPermutator(**kwargs)


def test_logits_match_official(fixture):
    meta, state, x, ref = fixture
    model = load_converted(_model(meta), convert_state_dict("vip", state)).eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == ref.shape
    assert max_abs_diff(out, ref) <= 1e-4


def test_downsample_slot_is_the_next_stage(fixture):
    converted = convert_state_dict("vip", fixture[1])
    assert torch.equal(converted["stages.1.downsample.proj.weight"], fixture[1]["network.1.proj.weight"])
    assert torch.equal(converted["stages.1.blocks.0.mixer.mlp_h.weight"], fixture[1]["network.2.0.attn.mlp_h.weight"])


@pytest.mark.parametrize("key", ["network.2.1.attn.mlp_w.weight", "network.1.proj.bias", "norm.weight"])
def test_missing_key_is_named(fixture, key):
    state = {k: v for k, v in fixture[1].items() if k != key}
    with pytest.raises(StateDictMismatchError, match=key.replace(".", r"\.")):
        convert_state_dict("vip", state)


def test_extra_key_is_named(fixture):
    state = {**fixture[1], "network.0.0.attn.mlp_h.bias": torch.zeros(32)}
    with pytest.raises(StateDictMismatchError, match=r"network\.0\.0\.attn\.mlp_h\.bias"):
        convert_state_dict("vip", state)

"""The official Flax Mixer parameters convert to visionmlp's Mixer and give the official (tanh-GELU) logits."""

import ast

import numpy as np
import pytest
import torch
from safetensors import safe_open

import visionmlp
from visionmlp.convert import CONVERTERS, StateDictMismatchError, convert_state_dict, load_converted

from official import constructor_kwargs, load_fixture, max_abs_diff

FIXTURE = "fixtures/official/flax_mixer_p8_d2_64.safetensors"


@pytest.fixture(scope="module")
def fixture(shared):
    meta, state, x, ref = load_fixture(shared / FIXTURE)
    with safe_open(str(shared / FIXTURE), "pt") as f:
        ref_exact = f.get_tensor("logits_gelu_exact")
    return meta, state, x, ref, ref_exact


def _model(meta, **kwargs):
    kw = constructor_kwargs(meta)
    patches = kw["patches"]  # source text: ml_collections.ConfigDict({'size': (8, 8)})
    patch_size = ast.literal_eval(patches[patches.index("{") : patches.rindex("}") + 1])["size"]
    return visionmlp.create_model(
        "mixer_s16_224",
        img_size=int(meta["img_size"]),
        in_chans=int(meta["in_chans"]),
        patch_size=patch_size,
        num_classes=kw["num_classes"],
        num_blocks=kw["num_blocks"],
        embed_dim=kw["hidden_dim"],
        tokens_mlp_dim=kw["tokens_mlp_dim"],
        channels_mlp_dim=kw["channels_mlp_dim"],
        **kwargs,
    )


def _logits(meta, state, x, **kwargs):
    model = load_converted(_model(meta, **kwargs), convert_state_dict("flax_mixer", state)).eval()
    with torch.no_grad():
        return model(x)


def test_logits_match_official_tanh_gelu(fixture):
    meta, state, x, ref, _ = fixture
    out = _logits(meta, state, x, **CONVERTERS["flax_mixer"].model_kwargs)
    assert out.shape == ref.shape
    assert max_abs_diff(out, ref) <= 1e-4


def test_exact_gelu_matches_exact_gelu_reference(fixture):
    meta, state, x, ref, ref_exact = fixture
    out = _logits(meta, state, x, gelu_approximate="none")
    assert max_abs_diff(out, ref_exact) <= 1e-4
    assert max_abs_diff(out, ref) > 1e-4  # the GELU variant matters at this tolerance


def test_npz_dict_converts_the_same(fixture, tmp_path):
    _, state, _, _, _ = fixture
    np.savez(tmp_path / "mixer.npz", **{k: v.numpy() for k, v in state.items()})
    with np.load(tmp_path / "mixer.npz") as npz:
        from_npz = convert_state_dict("flax_mixer", dict(npz))
    expected = convert_state_dict("flax_mixer", state)
    assert from_npz.keys() == expected.keys()
    assert all(torch.equal(from_npz[k], expected[k]) for k in expected)


@pytest.mark.parametrize(
    "key", ["MixerBlock_1/token_mixing/Dense_1/kernel", "stem/kernel", "pre_head_layer_norm/scale"]
)
def test_missing_key_is_named(fixture, key):
    _, state, _, _, _ = fixture
    with pytest.raises(StateDictMismatchError, match=f"missing 1: {key}"):
        convert_state_dict("flax_mixer", {k: v for k, v in state.items() if k != key})


def test_unexpected_key_is_named(fixture):
    _, state, _, _, _ = fixture
    with pytest.raises(StateDictMismatchError, match="unexpected 1: MixerBlock_0/extra"):
        convert_state_dict("flax_mixer", {**state, "MixerBlock_0/extra": torch.zeros(1)})

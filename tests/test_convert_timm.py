"""timm's Mixer / ResMLP / gMLP state dicts convert to visionmlp and give timm's logits."""

import pytest
import torch

import visionmlp
from visionmlp.convert import CONVERTERS, StateDictMismatchError, convert_state_dict, load_converted

from official import constructor_kwargs, load_fixture, max_abs_diff


def _mixer(kw):
    tokens_ratio, channels_ratio = kw["mlp_ratio"]
    dim = kw["embed_dim"]
    return "mixer_s16_224", dict(
        num_blocks=kw["num_blocks"],
        tokens_mlp_dim=int(tokens_ratio * dim),
        channels_mlp_dim=int(channels_ratio * dim),
    )


def _resmlp(kw):
    assert kw["block_layer"] == "ResBlock" and kw["norm_layer"] == "Affine"
    return "resmlp_12_224", dict(depth=kw["num_blocks"], mlp_ratio=kw["mlp_ratio"])


def _gmlp(kw):
    assert kw["block_layer"] == "SpatialGatingBlock" and kw["mlp_layer"] == "GatedMlp"
    return "gmlp_s16_224", dict(num_blocks=kw["num_blocks"], mlp_ratio=kw["mlp_ratio"])


CASES = {"timm_mixer": _mixer, "timm_resmlp": _resmlp, "timm_gmlp": _gmlp}


def _load(shared, fmt):
    return load_fixture(shared / f"fixtures/official/{fmt}_p8_d2_64.safetensors")


def _model(fmt, meta):
    kw = constructor_kwargs(meta)
    name, arch = CASES[fmt](kw)
    common = {k: kw[k] for k in ("img_size", "in_chans", "patch_size", "embed_dim", "num_classes")}
    return visionmlp.create_model(name, **common, **arch, **CONVERTERS[fmt].model_kwargs)


@pytest.mark.parametrize("fmt", list(CASES))
def test_logits_match_timm(shared, fmt):
    meta, state, x, ref = _load(shared, fmt)
    model = load_converted(_model(fmt, meta), convert_state_dict(fmt, state)).eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == ref.shape
    assert max_abs_diff(out, ref) <= 1e-4


@pytest.mark.parametrize("fmt", list(CASES))
def test_missing_and_unexpected_keys_are_named(shared, fmt):
    _, state, _, _ = _load(shared, fmt)
    key = sorted(k for k in state if k.startswith("blocks.1."))[-1]
    with pytest.raises(StateDictMismatchError, match=r"missing 1: " + key.replace(".", r"\.")):
        convert_state_dict(fmt, {k: v for k, v in state.items() if k != key})
    with pytest.raises(StateDictMismatchError, match=r"unexpected 1: blocks\.0\.extra"):
        convert_state_dict(fmt, {**state, "blocks.0.extra": torch.zeros(1)})


def test_resmlp_affine_becomes_vector(shared):
    _, state, _, _ = _load(shared, "timm_resmlp")
    assert state["norm.alpha"].shape == (1, 1, 128)
    assert convert_state_dict("timm_resmlp", state)["norm.alpha"].shape == (128,)

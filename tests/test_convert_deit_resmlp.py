"""The official deit ResMLP state dict converts to visionmlp's ResMLP and gives the official logits."""

import pytest
import torch

import visionmlp
from visionmlp.convert import CONVERTERS, StateDictMismatchError, convert_state_dict, load_converted

from official import constructor_kwargs, load_fixture, max_abs_diff

FIXTURE = "fixtures/official/deit_resmlp_p8_d2_64.safetensors"


@pytest.fixture(scope="module")
def fixture(shared):
    return load_fixture(shared / FIXTURE)


def _model(meta):
    kw = constructor_kwargs(meta)
    assert kw["Patch_layer"] == "PatchEmbed"
    return visionmlp.create_model(
        "resmlp_12_224",
        img_size=kw["img_size"],
        patch_size=kw["patch_size"],
        in_chans=kw["in_chans"],
        num_classes=kw["num_classes"],
        embed_dim=kw["embed_dim"],
        depth=kw["depth"],
        init_scale=kw["init_scale"],
        **CONVERTERS["deit_resmlp"].model_kwargs,
    )


def test_logits_match_official(fixture):
    meta, state, x, ref = fixture
    model = load_converted(_model(meta), convert_state_dict("deit_resmlp", state)).eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == ref.shape
    assert max_abs_diff(out, ref) <= 1e-4


@pytest.mark.parametrize("key", ["blocks.1.gamma_2", "blocks.0.attn.bias", "patch_embed.proj.weight", "norm.beta"])
def test_missing_key_is_named(fixture, key):
    _, state, _, _ = fixture
    broken = {k: v for k, v in state.items() if k != key}
    with pytest.raises(StateDictMismatchError, match=key.replace(".", r"\.")):
        convert_state_dict("deit_resmlp", broken)


def test_unexpected_key_is_named(fixture):
    _, state, _, _ = fixture
    with pytest.raises(StateDictMismatchError, match=r"unexpected 1: blocks\.0\.attn\.extra"):
        convert_state_dict("deit_resmlp", {**state, "blocks.0.attn.extra": torch.zeros(1)})

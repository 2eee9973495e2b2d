"""The ``ffonly`` converter reproduces the official FF-only ViT's logits on its fixture."""

import pytest
import torch

import visionmlp
from visionmlp.convert import StateDictMismatchError, convert_state_dict, load_converted

from official import constructor_kwargs, load_fixture, max_abs_diff

FIXTURE = "ffonly_p16_d2_224.safetensors"


@pytest.fixture(scope="module")
def fixture(shared):
    return load_fixture(shared / "fixtures" / "official" / FIXTURE)


def test_logits_match_official(fixture):
    meta, state, x, ref = fixture
    kw = constructor_kwargs(meta)
    assert kw["norm_layer"] == "partial(nn.LayerNorm, eps=1e-06)"
    model = visionmlp.create_model(
        "ffonly_base",
        img_size=int(meta["img_size"]),
        in_chans=kw["in_chans"],
        num_classes=kw["num_classes"],
        patch_size=kw["patch_size"],
        embed_dim=kw["embed_dim"],
        depth=kw["depth"],
        mlp_ratio=kw["mlp_ratio"],
    )
    load_converted(model, convert_state_dict("ffonly", state), FIXTURE).eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == ref.shape
    assert max_abs_diff(out, ref) <= 1e-4


def test_missing_and_unexpected_keys_are_named(fixture):
    _, state, _, _ = fixture
    missing = {k: v for k, v in state.items() if k != "blocks.1.norm2.bias"}
    with pytest.raises(StateDictMismatchError, match=r"missing.*blocks\.1\.norm2\.bias"):
        convert_state_dict("ffonly", missing)
    extra = {**state, "pos_encoding.extra": torch.zeros(1)}
    with pytest.raises(StateDictMismatchError, match=r"unexpected.*pos_encoding\.extra"):
        convert_state_dict("ffonly", extra)

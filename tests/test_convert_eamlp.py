"""The ``eamlp`` converter reproduces the official EAMLP's logits on its fixture, re-tying the tokenizer."""

import pytest
import torch

import visionmlp
from visionmlp.convert import StateDictMismatchError, convert_state_dict, load_converted

from official import constructor_kwargs, load_fixture, max_abs_diff

FIXTURE = "eamlp_performer_d2_64.safetensors"
TIED = [f"tokens_to_token.attention{i}.attn" for i in (1, 2)]


@pytest.fixture(scope="module")
def fixture(shared):
    return load_fixture(shared / "fixtures" / "official" / FIXTURE)


def _model(meta):
    kw = constructor_kwargs(meta)
    assert kw["tokens_type"] == "performer"
    return visionmlp.create_model(
        "eamlp_14",
        img_size=kw["img_size"],
        in_chans=kw["in_chans"],
        num_classes=kw["num_classes"],
        embed_dim=kw["embed_dim"],
        depth=kw["depth"],
        num_heads=kw["num_heads"],
        mlp_ratio=kw["mlp_ratio"],
        token_dim=kw["token_dim"],
    )


def _logits(model, state, x):
    load_converted(model, convert_state_dict("eamlp", state), FIXTURE).eval()
    with torch.no_grad():
        return model(x)


def test_logits_match_official(fixture):
    meta, state, x, ref = fixture
    out = _logits(_model(meta), state, x)
    assert out.shape == ref.shape
    assert max_abs_diff(out, ref) <= 1e-4


def test_tie_is_one_parameter_and_follows_linear_1(fixture):
    meta, state, x, ref = fixture
    model = _model(meta)
    for name in TIED:
        assert f"{name}.linear_1.weight" not in model.state_dict()
    # An untied (EMA) checkpoint: the official load keeps linear_1, so a corrupted linear_0 changes nothing.
    untied = dict(state)
    for name in TIED:
        untied[f"{name}.linear_0.weight"] = torch.randn_like(state[f"{name}.linear_0.weight"])
    assert max_abs_diff(_logits(model, untied, x), ref) <= 1e-4
    attn = model.tokens_to_token.attention1.attn
    assert torch.equal(attn.linear_0.weight, state[f"{TIED[0]}.linear_1.weight"].t())


def test_missing_and_unexpected_keys_are_named(fixture):
    _, state, _, _ = fixture
    key = "tokens_to_token.attention2.attn.linear_1.weight"
    with pytest.raises(StateDictMismatchError, match=rf"missing.*{key}"):
        convert_state_dict("eamlp", {k: v for k, v in state.items() if k != key})
    with pytest.raises(StateDictMismatchError, match=r"unexpected.*tokens_to_token\.extra"):
        convert_state_dict("eamlp", {**state, "tokens_to_token.extra": torch.zeros(1)})

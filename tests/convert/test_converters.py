"""Every official format's converter, on the official code's own fixtures (``shared/fixtures/official``): the
converted weights give the official logits in a model rebuilt from the fixture's constructor call by its official
argument names; a missing or unexpected key is named; then each format's own traps."""

import numpy as np
import pytest
import torch
from safetensors import safe_open

import visionmlp
from helpers.official import FIXTURES, constructor_kwargs, fixture_model, load_fixture, max_abs_diff
from visionmlp.convert import StateDictMismatchError, convert_state_dict, load_converted
from visionmlp.formats import detect_format


def _load(shared, fixture):
    return load_fixture(shared / "fixtures" / "official" / f"{fixture}.safetensors")


def _converted_model(meta, state, **kwargs):
    fmt = meta["family"]
    name, build = fixture_model(fmt, meta)
    return load_converted(visionmlp.create_model(name, **{**build, **kwargs}), convert_state_dict(fmt, state)).eval()


@pytest.mark.parametrize("fixture", FIXTURES)
def test_logits_match_official(shared, fixture):
    meta, state, x, ref = _load(shared, fixture)
    assert detect_format(state) == meta["family"]
    with torch.no_grad():
        out = _converted_model(meta, state)(x)
    assert out.shape == ref.shape
    assert max_abs_diff(out, ref) <= 1e-4


# One official key per format (and per kind of slot where a format has several) whose absence must be named,
# and a key no official file has.
MISSING = [
    ("flax_mixer_p8_d2_64", "MixerBlock_1/token_mixing/Dense_1/kernel"),
    ("flax_mixer_p8_d2_64", "stem/kernel"),
    ("flax_mixer_p8_d2_64", "pre_head_layer_norm/scale"),
    ("timm_mixer_p8_d2_64", "blocks.1.norm2.weight"),
    ("timm_resmlp_p8_d2_64", "blocks.1.ls2"),
    ("timm_gmlp_p8_d2_64", "blocks.1.mlp_channels.gate.proj.weight"),
    ("deit_resmlp_p8_d2_64", "blocks.1.gamma_2"),
    ("deit_resmlp_p8_d2_64", "blocks.0.attn.bias"),
    ("deit_resmlp_p8_d2_64", "patch_embed.proj.weight"),
    ("deit_resmlp_p8_d2_64", "norm.beta"),
    ("ffonly_p16_d2_224", "blocks.1.norm2.bias"),
    ("eamlp_performer_d2_64", "tokens_to_token.attention2.attn.linear_1.weight"),
    ("convmlp_b222_64", "stages.1.blocks.0.connect_norm.bias"),
    ("vip_p4_l2222_64", "network.2.1.attn.mlp_w.weight"),
    ("vip_p4_l2222_64", "network.1.proj.bias"),
    ("dynamixer_p7_l2222_112", "network.2.1.attn.mix_w.compress.weight"),
    ("dynamixer_p7_l2222_112", "norm.weight"),
    ("cyclemlp_l1212_96", "network.2.1.attn.sfc_w.bias"),
    ("asmlp_p4_s5_d2221_64", "layers.1.downsample.reduction.weight"),
]
EXTRA = {
    "flax_mixer_p8_d2_64": "MixerBlock_0/extra",
    "timm_mixer_p8_d2_64": "blocks.0.extra",
    "deit_resmlp_p8_d2_64": "blocks.0.attn.extra",
    "ffonly_p16_d2_224": "pos_encoding.extra",
    "eamlp_performer_d2_64": "tokens_to_token.extra",
    "convmlp_b222_64": "stages.2.downsample_mlp.downsample.weight",
    "vip_p4_l2222_64": "network.0.0.attn.mlp_h.bias",
    "dynamixer_p7_l2222_112": "network.0.0.attn.mix_h.scale",
    "cyclemlp_l2222_64": "norm.running_mean",
    "asmlp_p4_s7_d1222_96": "norm.running_mean",
}


@pytest.mark.parametrize("fixture, key", MISSING, ids=[f"{f}-{k}" for f, k in MISSING])
def test_missing_key_is_named(shared, fixture, key):
    meta, state, _, _ = _load(shared, fixture)
    assert key in state
    with pytest.raises(StateDictMismatchError, match=r"missing 1: " + key.replace(".", r"\.")):
        convert_state_dict(meta["family"], {k: v for k, v in state.items() if k != key})


@pytest.mark.parametrize("fixture", sorted(EXTRA))
def test_unexpected_key_is_named(shared, fixture):
    meta, state, _, _ = _load(shared, fixture)
    key = EXTRA[fixture]
    with pytest.raises(StateDictMismatchError, match=r"unexpected 1: " + key.replace(".", r"\.")):
        convert_state_dict(meta["family"], {**state, key: torch.zeros(1)})


# ----- each format's own traps ----------------------------------------------------------------------
def test_flax_mixer_gelu_is_the_official_tanh_one(shared):
    """The converted model with exact GELU gives the fixture's exact-GELU logits, and the two differ at 1e-4."""
    meta, state, x, ref = _load(shared, "flax_mixer_p8_d2_64")
    with safe_open(str(shared / "fixtures/official/flax_mixer_p8_d2_64.safetensors"), "pt") as f:
        ref_exact = f.get_tensor("logits_gelu_exact")
    with torch.no_grad():
        out = _converted_model(meta, state, gelu_approximate="none")(x)
    assert max_abs_diff(out, ref_exact) <= 1e-4
    assert max_abs_diff(out, ref) > 1e-4


def test_flax_mixer_npz_converts_the_same(shared, tmp_path):
    _, state, _, _ = _load(shared, "flax_mixer_p8_d2_64")
    np.savez(tmp_path / "mixer.npz", **{k: v.numpy() for k, v in state.items()})
    with np.load(tmp_path / "mixer.npz") as npz:
        from_npz = convert_state_dict("flax_mixer", dict(npz))
    expected = convert_state_dict("flax_mixer", state)
    assert from_npz.keys() == expected.keys()
    assert all(torch.equal(from_npz[k], expected[k]) for k in expected)


def test_timm_resmlp_affine_becomes_vector(shared):
    _, state, _, _ = _load(shared, "timm_resmlp_p8_d2_64")
    assert state["norm.alpha"].shape == (1, 1, 128)
    assert convert_state_dict("timm_resmlp", state)["norm.alpha"].shape == (128,)


def test_eamlp_tie_is_one_parameter_and_follows_linear_1(shared):
    meta, state, x, ref = _load(shared, "eamlp_performer_d2_64")
    tied = [f"tokens_to_token.attention{i}.attn" for i in (1, 2)]
    model = _converted_model(meta, state)
    assert not any(f"{name}.linear_1.weight" in model.state_dict() for name in tied)
    # An untied (EMA) checkpoint: the official load keeps linear_1, so a corrupted linear_0 changes nothing.
    untied = {**state, **{f"{n}.linear_0.weight": torch.randn_like(state[f"{n}.linear_0.weight"]) for n in tied}}
    with torch.no_grad():
        assert max_abs_diff(_converted_model(meta, untied)(x), ref) <= 1e-4
    assert torch.equal(model.tokens_to_token.attention1.attn.linear_0.weight, state[f"{tied[0]}.linear_1.weight"].t())


def test_convmlp_converted_model_takes_other_sizes(shared):
    meta, state, x, _ = _load(shared, "convmlp_b222_64")
    model = _converted_model(meta, state)
    name, build = fixture_model("convmlp", meta)
    with torch.no_grad():
        out = model(torch.randn(1, x.shape[1], 48, 80))
        maps = visionmlp.create_model(name, **build, features_only=True).eval()(torch.randn(1, x.shape[1], 48, 80))
    assert out.shape == (1, int(meta["num_classes"])) and torch.isfinite(out).all()
    assert [tuple(m.shape[-2:]) for m in maps] == [(12, 20), (6, 10), (3, 5), (2, 3)]


@pytest.mark.parametrize(
    "fixture, mixer_key",
    [("vip_p4_l2222_64", "mlp_h.weight"), ("dynamixer_p7_l2222_112", "mix_h.generate.weight")],
)
def test_permutator_downsample_slot_is_the_next_stage(shared, fixture, mixer_key):
    meta, state, _, _ = _load(shared, fixture)
    converted = convert_state_dict(meta["family"], state)
    assert torch.equal(converted["stages.1.downsample.proj.weight"], state["network.1.proj.weight"])
    assert torch.equal(converted[f"stages.1.blocks.0.mixer.{mixer_key}"], state[f"network.2.0.attn.{mixer_key}"])


def test_asmlp_merging_starts_the_next_stage(shared):
    _, state, _, _ = _load(shared, "asmlp_p4_s5_d2221_64")
    out = convert_state_dict("asmlp", state)
    assert torch.equal(out["stages.1.downsample.reduction.weight"], state["layers.0.downsample.reduction.weight"])
    assert "stages.0.downsample.norm.weight" not in out


def test_asmlp_without_shift_biases(shared):
    """``as_bias=False`` files have no axial-shift conv biases; the converter reads that off the keys."""
    meta, state, _, _ = _load(shared, "asmlp_p4_s5_d2221_64")
    state = {k: v for k, v in state.items() if not (".axial_shift.conv" in k and k.endswith(".bias"))}
    name, build = fixture_model("asmlp", meta)
    model = visionmlp.create_model(name, **build, as_bias=False)
    load_converted(model, convert_state_dict("asmlp", state))
    assert constructor_kwargs(meta).get("as_bias", True)  # the fixture itself has them


def test_cycle_offsets_are_checked_not_loaded(shared):
    _, state, _, _ = _load(shared, "cyclemlp_l2222_64")
    offsets = [k for k in state if k.endswith(".offset")]
    assert offsets and not any(k.endswith(".offset") for k in convert_state_dict("cyclemlp", state))
    wrong = dict(state)
    wrong[offsets[0]] = -state[offsets[0]]  # the offsets of a Cycle FC that looks the other way
    with pytest.raises(ValueError, match=offsets[0].replace(".", r"\.") + " is not Cycle FC's fixed offset pattern"):
        convert_state_dict("cyclemlp", wrong)
    wrong[offsets[0]] = state[offsets[0]][:, :4]
    with pytest.raises(ValueError, match=r"has shape \(1, 4, 1, 1\)"):
        convert_state_dict("cyclemlp", wrong)

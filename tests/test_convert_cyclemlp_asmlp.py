"""Official CycleMLP and AS-MLP weights -> visionmlp: the official code's logits on both fixtures of each,
and converters that name what does not fit."""

import pytest
import torch

from visionmlp.convert import StateDictMismatchError, convert_state_dict, load_converted
from visionmlp.formats import detect_format
from visionmlp.models.asmlp import ASMLP
from visionmlp.models.cyclemlp import CycleMLP

from official import constructor_kwargs, load_fixture, max_abs_diff

CASES = {
    "cyclemlp_l1212_96": "cyclemlp",
    "cyclemlp_l2222_64": "cyclemlp",
    "asmlp_p4_s5_d2221_64": "asmlp",
    "asmlp_p4_s7_d1222_96": "asmlp",
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, shared):
    return (CASES[request.param], *load_fixture(shared / "fixtures" / "official" / f"{request.param}.safetensors"))


def _model(fmt, meta):
    kw = constructor_kwargs(meta)
    if fmt == "asmlp":  # the official AS_MLP arguments are ours
        return ASMLP(**kw)
    assert kw["mlp_fn"] == "CycleMLP" and all(kw["transitions"])
    return CycleMLP(layers=kw["layers"], embed_dims=kw["embed_dims"], mlp_ratios=kw["mlp_ratios"], num_classes=10)


def test_logits_match_official(case):
    fmt, meta, state, x, ref = case
    assert detect_format(state) == fmt
    model = load_converted(_model(fmt, meta), convert_state_dict(fmt, state)).eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == ref.shape
    assert max_abs_diff(out, ref) <= 1e-4


def test_missing_and_extra_keys_are_named(case):
    fmt, _, state, _, _ = case
    key = "network.2.1.attn.sfc_w.bias" if fmt == "cyclemlp" else "layers.1.downsample.reduction.weight"
    if key not in state:
        key = next(k for k in state if k.endswith("mlp.fc2.bias"))
    with pytest.raises(StateDictMismatchError, match=r"missing 1: " + key.replace(".", r"\.")):
        convert_state_dict(fmt, {k: v for k, v in state.items() if k != key})
    with pytest.raises(StateDictMismatchError, match=r"unexpected 1: norm\.running_mean"):
        convert_state_dict(fmt, {**state, "norm.running_mean": torch.zeros(1)})


def test_merging_starts_the_next_stage(shared):
    _, state, _, _ = load_fixture(shared / "fixtures/official/asmlp_p4_s5_d2221_64.safetensors")
    out = convert_state_dict("asmlp", state)
    assert torch.equal(out["stages.1.downsample.reduction.weight"], state["layers.0.downsample.reduction.weight"])
    assert "stages.0.downsample.norm.weight" not in out


def test_asmlp_without_shift_biases(shared):
    """``as_bias=False`` files have no axial-shift conv biases; the converter reads that off the keys."""
    meta, state, _, _ = load_fixture(shared / "fixtures/official/asmlp_p4_s5_d2221_64.safetensors")
    state = {k: v for k, v in state.items() if not (".axial_shift.conv" in k and k.endswith(".bias"))}
    model = ASMLP(**constructor_kwargs(meta), as_bias=False)
    load_converted(model, convert_state_dict("asmlp", state))


def test_cycle_offsets_are_checked_not_loaded(shared):
    _, state, _, _ = load_fixture(shared / "fixtures/official/cyclemlp_l2222_64.safetensors")
    offsets = [k for k in state if k.endswith(".offset")]
    assert offsets and not any(k.endswith(".offset") for k in convert_state_dict("cyclemlp", state))
    wrong = dict(state)
    wrong[offsets[0]] = -state[offsets[0]]  # the offsets of a Cycle FC that looks the other way
    with pytest.raises(ValueError, match=offsets[0].replace(".", r"\.") + " is not Cycle FC's fixed offset pattern"):
        convert_state_dict("cyclemlp", wrong)
    wrong[offsets[0]] = state[offsets[0]][:, :4]
    with pytest.raises(ValueError, match=r"has shape \(1, 4, 1, 1\)"):
        convert_state_dict("cyclemlp", wrong)

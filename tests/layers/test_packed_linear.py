"""``pack()``: oneDNN-prepacked Linear weights compute the same function, and are used only where they may be
(inference on CPU, the weight unchanged since packing), never saved and never in the way of training."""

import copy
import io
import pickle

import pytest
import torch
from torch import nn

from helpers.randomised import ONE_PER_FAMILY, randomised, sample_input
from visionmlp.layers import linear as linear_module
from visionmlp.layers.conv_nhwc import ConvNHWC
from visionmlp.layers.linear import Linear
from visionmlp.layers.packed_linear import absorb_activation
from visionmlp.layers.token_linear import TokenMixingLinear
from visionmlp.models import get_entry
from visionmlp.models.cyclemlp import CycleFC
from visionmlp.utils.capabilities import capabilities, forced

pytestmark = pytest.mark.skipif(not capabilities().onednn, reason="needs oneDNN (the probe's onednn): none here")
needs_onednn_bf16 = pytest.mark.skipif(
    not capabilities().onednn_bf16,
    reason=f"needs oneDNN bfloat16 kernels (the probe's onednn_bf16), which CPU kind {capabilities().kind} lacks; "
    "test_bfloat16_keeps_the_plain_path_without_bfloat16_kernels covers this side",
)
ACTIVATIONS = [None, nn.GELU(), nn.GELU(approximate="tanh"), nn.ReLU(), nn.SiLU()]


@pytest.fixture
def packed_calls(monkeypatch):
    """Counts the calls that took the packed path."""
    calls = []
    real = linear_module.packed_linear

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(linear_module, "packed_linear", spy)
    return calls


def _layer(dtype=torch.float32, cin=48, cout=80, act=None):
    """A Linear with a random bias; ``act`` handed over as a block's ``pack()`` does."""
    torch.manual_seed(0)
    layer = Linear(cin, cout).to(dtype)
    with torch.no_grad():
        layer.bias.normal_()
    if act is not None:
        layer.activation = act
    return layer


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: "none" if a is None else repr(a))
def test_float32_matches_unpacked(act, packed_calls):
    layer = _layer(act=act)
    x = torch.randn(3, 7, 48).transpose(0, 1)  # a strided view, as the models hand over
    with torch.no_grad():
        expected = (act or nn.Identity())(nn.functional.linear(x, layer.weight, layer.bias))
        layer.pack()
        got = layer(x)
    assert len(packed_calls) == 1
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def _bfloat16_packed_vs_exact(act):
    """The packed-if-possible bfloat16 layer's output and the float32 computation of the same weights."""
    layer = _layer(torch.bfloat16, act=act)
    x = torch.randn(64, 48).bfloat16()
    with torch.no_grad():
        exact = (act or nn.Identity())(nn.functional.linear(x.float(), layer.weight.float(), layer.bias.float()))
        layer.pack()
        return layer, layer(x), exact


@needs_onednn_bf16
@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: "none" if a is None else repr(a))
def test_bfloat16_within_rounding(act, packed_calls):
    _, got, exact = _bfloat16_packed_vs_exact(act)
    assert got.dtype == torch.bfloat16 and len(packed_calls) == 1
    torch.testing.assert_close(got.float(), exact, atol=2e-2, rtol=1e-2)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: "none" if a is None else repr(a))
def test_bfloat16_keeps_the_plain_path_without_bfloat16_kernels(act, packed_calls):
    """As on an AVX2-only CPU: float32 weights still pack, bfloat16 ones do not, and compute the same."""
    with forced("avx2"):
        layer, got, exact = _bfloat16_packed_vs_exact(act)
        float32 = _layer()
        float32.pack()
        assert not layer.is_packed and float32.is_packed and len(packed_calls) == 0
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), exact, atol=2e-2, rtol=1e-2)


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_without_onednn_pack_packs_nothing_and_the_model_is_unchanged(name, packed_calls):
    model = randomised(name).fuse()
    reference = copy.deepcopy(model)
    x = sample_input(model)
    with forced(onednn=False), torch.no_grad():
        model.pack()
        assert not any(getattr(m, "_packed", ()) and any(p is not None for p in m._packed) for m in model.modules())
        torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)
    assert packed_calls == []


@pytest.mark.parametrize("bias", [True, False])
def test_output_chunks_are_packed_separately_into_contiguous_tensors(bias, packed_calls):
    torch.manual_seed(0)
    layer = Linear(48, 80, bias=bias)
    layer.activation = nn.GELU()
    x = torch.randn(6, 48)
    with torch.no_grad():
        whole = layer(x)
        unpacked = whole.chunk(2, dim=-1)
        layer.out_chunks = 2
        torch.testing.assert_close(torch.cat(layer.forward_chunks(x), -1), whole)  # not packed: a GEMM per chunk
        layer.pack()
        chunks = layer.forward_chunks(x)
        assert len(packed_calls) == 2 and layer.is_packed
        assert all(c.is_contiguous() and c.shape == (6, 40) for c in chunks)
        for got, expected in zip(chunks, unpacked, strict=True):
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(layer(x), whole, atol=1e-5, rtol=1e-5)  # the whole output still works
        layer.weight[:40].mul_(2.0)  # any change of the weight makes every chunk stale
        expected = nn.GELU()(linear_module.linear(x, layer.weight, layer.bias))
        torch.testing.assert_close(torch.cat(layer.forward_chunks(x), -1), expected)
    assert len(packed_calls) == 4  # the call on the whole output; none after the change
    layer.out_chunks = 3
    with pytest.raises(ValueError, match="do not split into 3 equal chunks"):
        layer.pack()


def test_unfusable_activation_runs_after_the_packed_gemm(packed_calls):
    layer = _layer(act=nn.Tanh())
    x = torch.randn(5, 48)
    with torch.no_grad():
        expected = torch.tanh(nn.functional.linear(x, layer.weight, layer.bias))
        layer.pack()
        got = layer(x)
    assert len(packed_calls) == 1
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_a_block_hands_over_only_a_fusable_activation_and_only_once():
    block = nn.Module()
    block.fc, block.act, block.other, block.tanh = Linear(4, 4), nn.GELU(), Linear(4, 4), nn.Tanh()
    gelu = block.act
    absorb_activation(block, "fc", "act")
    assert block.fc.activation is gelu and isinstance(block.act, nn.Identity)
    absorb_activation(block, "fc", "act")  # again: nothing left to move
    assert block.fc.activation is gelu
    absorb_activation(block, "other", "tanh")  # no oneDNN post-op computes it: it stays where it is
    assert block.other.activation is None and isinstance(block.tanh, nn.Tanh)
    assert set(block.state_dict()) == {"fc.weight", "fc.bias", "other.weight", "other.bias"}


def test_training_and_autocast_take_the_unpacked_path(packed_calls):
    layer = _layer()
    layer.pack()
    x = torch.randn(5, 48, requires_grad=True)
    layer(x).sum().backward()  # the packed op has no autograd formula: gradients must still flow
    assert layer.weight.grad is not None and x.grad is not None
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(x).dtype == torch.bfloat16  # autocast still decides the precision
    assert packed_calls == []


def test_stale_pack_is_not_used_after_the_weight_changes(packed_calls):
    layer = _layer()
    layer.pack()
    other = _layer()
    with torch.no_grad():
        other.weight.mul_(-1.0)
        layer.load_state_dict(other.state_dict())  # an in-place copy: a new version of the same storage
        x = torch.randn(5, 48)
        torch.testing.assert_close(layer(x), other(x))
        assert packed_calls == []
        layer.to(torch.bfloat16)  # a new parameter in another dtype
        layer(x.bfloat16())
        assert packed_calls == []
        layer.float()  # and back: a new parameter again, the old pack still stale
        layer(x)
        assert packed_calls == []
        layer.pack()
        layer(x)
    assert len(packed_calls) == 1


def test_pack_is_a_cache_not_state():
    layer = _layer()
    keys = set(layer.state_dict())
    layer.pack()
    assert set(layer.state_dict()) == keys
    twin = copy.deepcopy(layer)
    assert not twin.is_packed and layer.is_packed
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    assert not torch.load(buffer, weights_only=False).is_packed
    assert not pickle.loads(pickle.dumps(layer)).is_packed
    x = torch.randn(4, 48)
    with torch.no_grad():
        torch.testing.assert_close(twin(x), layer(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_packed_model_matches_unpacked(name, packed_calls):
    model = randomised(name).fuse()
    reference = copy.deepcopy(model)
    assert model.pack() is model
    x = sample_input(model)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)
    assert packed_calls  # at least the head; the channel MLPs where the family has them


def test_compiled_packed_model_traces_without_graph_breaks():
    model = randomised("mixer_s4_28").pack()
    x = sample_input(model)
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), atol=1e-5, rtol=1e-5)


def test_pointwise_conv_packs_as_a_linear_with_its_activation(packed_calls):
    torch.manual_seed(0)
    pointwise, spatial = ConvNHWC(48, 80, 1), ConvNHWC(48, 80, 3, padding=1)
    x = torch.randn(2, 5, 6, 48)
    with torch.no_grad():
        expected = [nn.GELU()(conv(x)) for conv in (pointwise, spatial)]
    for conv in (pointwise, spatial):
        conv.activation = nn.GELU()
        assert conv.pack() is conv
    assert pointwise.single_packed() is not None and spatial._packed == ()  # only a 1x1 conv is a Linear
    with torch.no_grad():
        for conv, want in zip((pointwise, spatial), expected, strict=True):
            torch.testing.assert_close(conv(x), want, atol=1e-5, rtol=1e-5)
    assert len(packed_calls) == 1  # the pointwise conv, with the GELU as its post-op
    assert copy.deepcopy(pointwise)._packed == ()  # a cache, like a Linear's


@pytest.mark.parametrize("family", ["asmlp", "cyclemlp"])
def test_pointwise_convs_and_cycle_fcs_are_packed(family):
    name = next(n for n in ONE_PER_FAMILY if get_entry(n).family == family)
    model = randomised(name).pack()
    convs = [m for m in model.modules() if isinstance(m, ConvNHWC)]
    packed = [m for m in convs if m.single_packed() is not None]
    assert packed and all(m.pointwise for m in packed)
    assert family != "cyclemlp" or any(isinstance(m, CycleFC) for m in packed)
    assert family != "asmlp" or any(m.activation is not None for m in packed)  # the GELUs as post-ops


def _plain_twin(model: nn.Module, name: str) -> nn.Module:
    """``model``'s family class built directly, as its definition writes it (plain ``nn.Linear``, the blocks'
    paper-form forwards), holding copies of ``model``'s weights."""
    plain = get_entry(name).builder(**get_entry(name).tiny)
    plain.load_state_dict(model.state_dict())
    return plain.eval()


@pytest.mark.parametrize("name", ONE_PER_FAMILY)
def test_the_fast_model_computes_the_plain_definition(name, packed_calls):
    """The builder's fast Linears, fuse() and pack() are transformations of the paper-form model: same outputs."""
    model = randomised(name)
    plain = _plain_twin(model, name)
    assert not any(type(m) is nn.Linear for m in model.modules())  # the builder put layers.Linear everywhere
    x = sample_input(model)
    with torch.no_grad():
        expected = plain(x)
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)
        model.fuse().pack()
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)
    assert packed_calls


@pytest.mark.parametrize("name", ["gmlp_s4_28", "dynamixer_s4_28"])
def test_inference_forms_train_as_the_paper_forms(name):
    """gMLP's split gate (its builder's fast form) and DynaMixer's transposed matrices (what pack() turns its op
    into) compute the paper forms' function, gradients included, in training too."""
    from visionmlp.models.dynamixer import TransposedDynaMixerOp
    from visionmlp.models.gmlp import SplitGatedMlp

    model = randomised(name)
    plain = _plain_twin(model, name).train()
    model.pack().train()
    assert any(isinstance(m, (SplitGatedMlp, TransposedDynaMixerOp)) for m in model.modules())
    x = sample_input(model)
    out, expected = model(x), plain(x)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    out.square().sum().backward()
    expected.square().sum().backward()
    for (key, p), q in zip(model.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=key)


def test_token_mixing_weights_are_not_packed():
    """The Mixer's token MLP applies its weights with ``mix_tokens``, never as Linears: nothing to swap or pack."""
    model = randomised("mixer_s4_28").pack()
    tokens = model.blocks[0].mlp_tokens
    assert type(tokens.fc1) is TokenMixingLinear and type(tokens.fc2) is TokenMixingLinear  # not swapped, not packed
    assert isinstance(model.blocks[0].mlp_channels.fc1, Linear) and model.blocks[0].mlp_channels.fc1.is_packed

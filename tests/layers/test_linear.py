"""``layers.linear``: the float32 CPU Linear computed as a 1x1 convolution must be ``F.linear`` (values and
gradients), and must stand aside where it is not the faster or the exportable path."""

import pytest
import torch
import torch.nn.functional as F

import visionmlp
from visionmlp.layers import linear as linear_module
from visionmlp.layers.linear import Linear, conv_applies, conv_is_faster, linear_as_conv
from visionmlp.models import get_entry
from visionmlp.utils import capabilities as capabilities_module
from visionmlp.utils import cpu
from visionmlp.utils.capabilities import forced


@pytest.mark.parametrize("shape", [(5, 12), (2, 7, 12), (2, 3, 4, 12)])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_path_equals_f_linear_forward_and_backward(shape, bias):
    torch.manual_seed(0)
    layer = Linear(12, 9, bias=bias)
    params = [p for p in layer.parameters()]
    x = torch.randn(*shape, requires_grad=True)
    grad = torch.randn(*shape[:-1], 9)
    results = []
    for fn in (linear_as_conv, F.linear):
        out = fn(x, layer.weight, layer.bias)
        results.append((out, torch.autograd.grad(out, [x, *params], grad)))
    (out, grads), (ref, ref_grads) = results
    assert out.shape == ref.shape and out.is_contiguous()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-5)


def test_conv_path_takes_strided_rows():
    torch.manual_seed(0)
    layer = Linear(6, 4)
    x = torch.randn(3, 6, 5).transpose(1, 2)  # (3, 5, 6), a strided view
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-6)


def test_conv_applies_only_to_float32_cpu_without_autocast():
    x = torch.randn(4, 8)
    assert conv_applies(x)
    assert not conv_applies(x.bfloat16()) and not conv_applies(x.double())
    assert not conv_applies(torch.empty(0, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not conv_applies(x)


@pytest.mark.parametrize(
    ("vendor", "mkl", "expected"),
    [("AuthenticAMD", True, True), ("GenuineIntel", True, False), ("", True, False), ("AuthenticAMD", False, False)],
    ids=["amd-mkl", "intel-mkl", "unknown", "amd-no-mkl"],
)
def test_conv_only_where_mkl_runs_on_a_non_intel_x86(monkeypatch, vendor, mkl, expected):
    monkeypatch.setattr(capabilities_module, "cpu_vendor", lambda: vendor)
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: mkl)
    assert capabilities_module.probe().conv_linear is expected
    with forced(conv_linear=expected):
        assert conv_is_faster(torch.randn(4, 8)) is expected


def test_cpu_fields_read_the_first_processor(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f\n\n"
                    "processor\t: 1\nvendor_id\t: Other\n")  # fmt: skip
    monkeypatch.setattr(cpu, "CPUINFO", info)
    cpu.cpu_fields.cache_clear()
    try:
        assert cpu.cpu_vendor() == "AuthenticAMD" and cpu.cpu_summary() == "AMD EPYC (avx2, avx512f)"
        monkeypatch.setattr(cpu, "CPUINFO", tmp_path / "missing")
        cpu.cpu_fields.cache_clear()
        assert cpu.cpu_vendor() == "" and cpu.cpu_name()  # no /proc/cpuinfo: the platform's name
    finally:
        cpu.cpu_fields.cache_clear()


def test_linear_routes_float32_through_the_conv_and_keeps_nn_linear_state(monkeypatch):
    calls = []
    monkeypatch.setattr(linear_module, "linear_as_conv", lambda *a: calls.append(a[0].dtype) or F.linear(*a))
    layer = Linear(8, 3)
    with forced(conv_linear=True):  # as on a machine where the conv is faster
        layer(torch.randn(2, 8))
        layer.bfloat16()(torch.randn(2, 8, dtype=torch.bfloat16))
    with forced(conv_linear=False):
        layer.float()(torch.randn(2, 8))
    assert calls == [torch.float32]  # bfloat16 stayed on F.linear, and so did float32 where the conv is slower
    assert isinstance(layer, torch.nn.Linear) and set(layer.state_dict()) == {"weight", "bias"}


def test_whole_model_matches_the_matmul_path():
    """A model built of these Linears gives the same logits with the conv path on and off."""
    torch.manual_seed(0)
    model = visionmlp.create_model("mixer_s16_224", **get_entry("mixer_s16_224").tiny).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        with forced(conv_linear=True):
            fast = model(x)
        with forced(conv_linear=False):
            torch.testing.assert_close(fast, model(x), rtol=1e-5, atol=1e-5)

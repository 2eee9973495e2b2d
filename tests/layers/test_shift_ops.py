"""The shift-based token mixers (CycleMLP, AS-MLP, S2-MLP/v2) against naive references written from the
official code and the papers' pseudo-code, and the pyramid families' feature strides at odd sizes."""

import pytest
import torch
import torch.nn.functional as F

import visionmlp
from visionmlp.layers.shift import ChannelShift, axial_offsets, quad_offsets
from visionmlp.models import get_entry
from visionmlp.models.asmlp import AxialShift
from visionmlp.models.cyclemlp import CycleFC


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _cycle_fc_reference(x, weight, bias, kernel_size):
    """Official CycleFC semantics, channel by channel: deform_conv2d with the constant offsets of
    ``gen_offset`` and a 1x1 kernel reads x[c, i + dy_c, j + dx_c], or 0 outside the map."""
    b, c, h, w = x.shape
    kh, kw = kernel_size
    start = (kh * kw) // 2
    sampled = torch.zeros_like(x)
    for ch in range(c):
        dy = (ch + start) % kh - kh // 2 if kw == 1 else 0
        dx = (ch + start) % kw - kw // 2 if kh == 1 else 0
        for i in range(h):
            for j in range(w):
                if 0 <= i + dy < h and 0 <= j + dx < w:
                    sampled[:, ch, i, j] = x[:, ch, i + dy, j + dx]
    return F.conv2d(sampled, weight, bias)


@pytest.mark.parametrize("kernel_size", [(1, 3), (3, 1), (1, 5), (7, 1)])
def test_cycle_fc_matches_deform_conv_reference(kernel_size):
    torch.manual_seed(0)
    fc = CycleFC(7, 5, kernel_size)
    x = _randn(2, 7, 5, 6)
    ours = fc(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, _cycle_fc_reference(x, fc.weight, fc.bias, kernel_size))


def _torch_shift_reference(x, shift_size, dim):
    """AS-MLP's pure-torch shift (``models/shift_cuda.py: torch_shift``) on an NCHW map."""
    h, w = x.shape[-2:]
    pad = shift_size // 2
    x = F.pad(x, (pad, pad, pad, pad))
    xs = torch.chunk(x, shift_size, 1)  # may give fewer than shift_size chunks: zip stops early
    x = torch.cat([torch.roll(x_c, s, dim) for x_c, s in zip(xs, range(-pad, pad + 1), strict=False)], 1)
    return torch.narrow(torch.narrow(x, 2, pad, h), 3, pad, w)


@pytest.mark.parametrize(("channels", "shift_size"), [(10, 5), (7, 5), (6, 3), (9, 7)])
def test_axial_shift_matches_official_torch_shift(channels, shift_size):
    x = _randn(2, channels, 6, 5)
    for dim, axis in ((2, 0), (3, 1)):
        ours = ChannelShift(axial_offsets(channels, shift_size, axis))(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        torch.testing.assert_close(ours, _torch_shift_reference(x, shift_size, dim), rtol=0, atol=0)


def _conv(conv, x):
    return F.conv2d(x, conv.weight, conv.bias)


def _gn(norm, x):
    return F.group_norm(x, 1, norm.weight, norm.bias, norm.eps)


def _axial_shift_reference(mod, x):
    """The official ``AxialShift.forward`` on an NCHW map, with ``mod``'s weights."""
    x = F.gelu(_gn(mod.norm1, _conv(mod.conv1, x)))
    lr = F.gelu(_conv(mod.conv2_1, _torch_shift_reference(x, mod.shift_size, 3)))
    td = F.gelu(_conv(mod.conv2_2, _torch_shift_reference(x, mod.shift_size, 2)))
    return _conv(mod.conv3, _gn(mod.norm2, lr + td))


def _asmlp_reference(model, x):
    """The official AS-MLP forward (NCHW maps, 1x1 convs, padded merging) with ``model``'s weights."""
    p = model.stem.patch_size
    x = F.pad(x, (0, -x.shape[-1] % p, 0, -x.shape[-2] % p))
    x = _gn(model.stem.norm, F.conv2d(x, model.stem.proj.weight, model.stem.proj.bias, stride=p))
    for stage in model.stages:
        if not isinstance(stage.downsample, torch.nn.Identity):
            x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
            x = torch.cat([x[..., 0::2, 0::2], x[..., 1::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 1::2]], 1)
            x = _conv(stage.downsample.reduction, _gn(stage.downsample.norm, x))
        for block in stage.blocks:
            x = x + _axial_shift_reference(block.axial_shift, _gn(block.norm1, x))
            h = F.gelu(_conv(block.mlp.fc1, _gn(block.norm2, x)))
            x = x + _conv(block.mlp.fc2, h)
    return _gn(model.norm, x)


def test_axial_shift_module_uses_both_axes():
    torch.manual_seed(0)
    mod = AxialShift(10, 5).eval()
    x = _randn(1, 10, 6, 7)
    with torch.no_grad():
        ours = mod(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # the module works on (B, H, W, C)
        torch.testing.assert_close(ours, _axial_shift_reference(mod, x))


def test_asmlp_channels_last_model_matches_official_nchw_equations():
    """The model runs channels-last with 1x1 convs as matmuls; the official NCHW computation with the same
    weights must give the same map, on an odd non-square input that exercises every padding."""
    torch.manual_seed(0)
    model = visionmlp.create_model("asmlp_t", **get_entry("asmlp_t").tiny).eval()
    for module in model.modules():  # non-trivial norm affines, so a wrong layout cannot hide behind 1 and 0
        if isinstance(module, torch.nn.GroupNorm):
            torch.nn.init.normal_(module.weight, 1.0, 0.2)
            torch.nn.init.normal_(module.bias, 0.0, 0.2)
    x = _randn(2, 3, 45, 70)
    with torch.no_grad():
        ours = model.forward_features(x)
        torch.testing.assert_close(ours, _asmlp_reference(model, x), rtol=1e-5, atol=1e-5)


def _spatial_shift1(x):
    """The S2-MLP / S2-MLPv2 papers' pseudo-code (in place; sources cloned so the copies do not overlap)."""
    x = x.clone()
    _, w, h, c = x.shape
    x[:, 1:, :, : c // 4] = x[:, : w - 1, :, : c // 4].clone()
    x[:, : w - 1, :, c // 4 : c // 2] = x[:, 1:, :, c // 4 : c // 2].clone()
    x[:, :, 1:, c // 2 : c * 3 // 4] = x[:, :, : h - 1, c // 2 : c * 3 // 4].clone()
    x[:, :, : h - 1, 3 * c // 4 :] = x[:, :, 1:, 3 * c // 4 :].clone()
    return x


def _spatial_shift2(x):
    x = x.clone()
    _, w, h, c = x.shape
    x[:, :, 1:, : c // 4] = x[:, :, : h - 1, : c // 4].clone()
    x[:, :, : h - 1, c // 4 : c // 2] = x[:, :, 1:, c // 4 : c // 2].clone()
    x[:, 1:, :, c // 2 : c * 3 // 4] = x[:, : w - 1, :, c // 2 : c * 3 // 4].clone()
    x[:, : w - 1, :, 3 * c // 4 :] = x[:, 1:, :, 3 * c // 4 :].clone()
    return x


@pytest.mark.parametrize("channels", [8, 10, 13])
def test_spatial_shift_matches_paper_pseudo_code(channels):
    x = _randn(2, 5, 6, channels)
    one = ChannelShift(quad_offsets(channels, first_axis=0), padding="border")(x)
    two = ChannelShift(quad_offsets(channels, first_axis=1), padding="border")(x)
    torch.testing.assert_close(one, _spatial_shift1(x), rtol=0, atol=0)
    torch.testing.assert_close(two, _spatial_shift2(x), rtol=0, atol=0)


def _clamped_shift_reference(x, offsets, padding):
    """out[b, i, j, c] = x[b, i + dy_c, j + dx_c, c], element by element; outside: 0 or the nearest border."""
    _, h, w, c = x.shape
    out = torch.zeros_like(x)
    for ch, (dy, dx) in enumerate(offsets.tolist()):
        for i in range(h):
            for j in range(w):
                si, sj = i + dy, j + dx
                if padding == "border":
                    si, sj = min(max(si, 0), h - 1), min(max(sj, 0), w - 1)
                if 0 <= si < h and 0 <= sj < w:
                    out[:, i, j, ch] = x[:, si, sj, ch]
    return out


@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_any_single_axis_table_matches_the_elementwise_definition(padding):
    """Groups that are no arithmetic progression (split into runs), shifts longer than the map, zero shifts."""
    offsets = torch.tensor([[0, 1], [2, 0], [0, 1], [0, 1], [-1, 0], [0, -7], [2, 0], [0, 0], [2, 0], [0, 1]])
    x = _randn(2, 4, 5, len(offsets)).requires_grad_()
    shift = ChannelShift(offsets, padding)
    expected = _clamped_shift_reference(x, offsets, padding)
    torch.testing.assert_close(shift(x), expected, rtol=0, atol=0)
    cotangent = _randn(*x.shape, seed=1)
    grad = torch.autograd.grad((shift(x) * cotangent).sum(), x)[0]
    torch.testing.assert_close(grad, torch.autograd.grad((expected * cotangent).sum(), x)[0])


@pytest.mark.parametrize(
    ("offsets", "padding", "x", "message"),
    [
        (quad_offsets(4), "reflect", torch.zeros(1, 2, 2, 4), "padding"),
        (torch.tensor([[1, 1], [0, 0]]), "zeros", torch.zeros(1, 2, 2, 2), "one axis"),
        (torch.tensor([1, 0]), "zeros", torch.zeros(1, 2, 2, 2), r"\(channels, 2\)"),
        (quad_offsets(4), "zeros", torch.zeros(1, 2, 2, 8), "planned for 4 channels, the map has 8"),
    ],
    ids=["padding", "diagonal", "table-shape", "channels"],
)
def test_shift_rejects_what_it_cannot_do(offsets, padding, x, message):
    with pytest.raises(ValueError, match=message):
        ChannelShift(offsets, padding)(x)


@pytest.mark.parametrize("name", ["cyclemlp_b1", "asmlp_t"])
def test_pyramid_strides_on_odd_non_square_input(name):
    torch.manual_seed(0)
    model = visionmlp.create_model(name, **get_entry(name).tiny, features_only=True).eval()
    assert model.feature_info.reduction() == [4, 8, 16, 32]
    h, w = 45, 70  # not multiples of 32, not square
    with torch.no_grad():
        maps = model(torch.randn(1, 3, h, w))
    for fmap, info in zip(maps, model.feature_info, strict=True):
        r = info["reduction"]
        assert fmap.shape[1] == info["num_chs"]
        assert fmap.shape[-2] in (h // r, -(-h // r)) and fmap.shape[-1] in (w // r, -(-w // r)), (fmap.shape, r)


@pytest.mark.parametrize("name", ["s2mlp_wide", "s2mlpv2_m"])
def test_s2_families_take_other_sizes(name):
    torch.manual_seed(0)
    model = visionmlp.create_model(name, **get_entry(name).tiny).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 40, 56))
    assert out.shape == (1, model.num_classes) and torch.isfinite(out).all()


@pytest.mark.parametrize("padding", ["zeros", "border"])
def test_shift_backward_is_its_adjoint_to_second_order(padding):
    """The hand-written backward (the opposite shift, border strips summed) against finite differences, and
    differentiable itself (a gradient penalty needs the second derivative)."""
    shift = ChannelShift(torch.tensor([[0, 1], [2, 0], [0, -1], [0, 0], [-3, 0]]), padding)
    x = _randn(2, 3, 4, 5).double().requires_grad_()
    assert torch.autograd.gradcheck(shift, (x,))
    assert torch.autograd.gradgradcheck(shift, (x,))

"""``dynamic_img_size=True``: exact at the native size, runs at other sizes, non-square included."""

import pytest
import torch

import visionmlp
from visionmlp.models import get_entry

DYNAMIC = [
    n
    for n in visionmlp.list_models()
    if getattr(get_entry(n).builder(**get_entry(n).tiny), "supports_dynamic_img_size", False)
]


def _pair(name):
    torch.manual_seed(0)
    static = visionmlp.create_model(name, **get_entry(name).tiny).eval()
    dynamic = visionmlp.create_model(name, **get_entry(name).tiny, dynamic_img_size=True).eval()
    dynamic.load_state_dict(static.state_dict())
    with torch.no_grad():
        for p in dynamic.get_classifier().parameters():
            p.normal_(0, 0.5)
    return static, dynamic


@pytest.mark.parametrize("name", DYNAMIC)
def test_exact_at_native_size(name):
    static, dynamic = _pair(name)
    static.load_state_dict(dynamic.state_dict())
    x = torch.randn(2, *static.pretrained_cfg.input_size)
    with torch.no_grad():
        assert torch.equal(static(x), dynamic(x))


@pytest.mark.parametrize("name", DYNAMIC)
def test_other_sizes_and_non_square(name):
    _, model = _pair(name)
    c, h, w = model.pretrained_cfg.input_size
    mh, mw = model.size_multiple
    sizes = [(h + 2 * mh, w + 2 * mw), (max(mh, h - mh), max(mw, w - mw)), (h + mh, w + 3 * mw)]
    for size in sizes:
        with torch.no_grad():
            out = model(torch.randn(2, c, *size))
        assert out.shape == (2, model.num_classes) and torch.isfinite(out).all(), size
        feats = visionmlp.create_model(name, **get_entry(name).tiny, dynamic_img_size=True, features_only=True)
        with torch.no_grad():
            maps = feats(torch.randn(1, c, *size))
        for fmap, info in zip(maps, feats.feature_info, strict=True):
            assert fmap.shape[-2:] == (size[0] // info["reduction"], size[1] // info["reduction"])


@pytest.mark.parametrize("name", DYNAMIC)
def test_size_not_multiple_is_rejected(name):
    _, model = _pair(name)
    c, h, w = model.pretrained_cfg.input_size
    if model.size_multiple == (1, 1):
        pytest.skip("any size works")
    with pytest.raises(ValueError, match="multiples of"):
        model(torch.randn(1, c, h + 1, w))


# ----- dynamic_img_pad: odd sizes padded to the stride -------------------------------------------
def _odd_size(model):
    """A size whose sides are not multiples of the stride but pad (bottom/right) to the native size."""
    (h, w), (mh, mw) = model.fixed_img_size, model.size_multiple
    return h - mh + 1, w - max(1, mw // 2)


@pytest.mark.parametrize("name", DYNAMIC)
def test_dynamic_img_pad_equals_explicit_zero_padding(name):
    torch.manual_seed(0)
    padded = visionmlp.create_model(name, **get_entry(name).tiny, dynamic_img_pad=True).eval()
    plain = visionmlp.create_model(name, **get_entry(name).tiny).eval()
    plain.load_state_dict(padded.state_dict())
    c, h, w = plain.pretrained_cfg.input_size
    oh, ow = _odd_size(plain)
    x = torch.randn(2, c, oh, ow)
    with pytest.raises(ValueError, match="dynamic_img_pad=True"):
        plain(x)  # without it the error stays, and names the fix
    with torch.no_grad():
        assert torch.equal(padded(x), plain(torch.nn.functional.pad(x, (0, w - ow, 0, h - oh))))


@pytest.mark.parametrize("name", DYNAMIC)
def test_dynamic_img_pad_with_dynamic_size_takes_any_size(name):
    model = visionmlp.create_model(name, **get_entry(name).tiny, dynamic_img_pad=True, dynamic_img_size=True).eval()
    c, h, w = model.pretrained_cfg.input_size
    mh, mw = model.size_multiple
    for size in [(h + mh + 1, w + 3), (mh - 1, 2 * mw + 1)]:
        with torch.no_grad():
            out = model(torch.randn(1, c, *size))
        assert out.shape == (1, model.num_classes) and torch.isfinite(out).all(), size


def test_dynamic_img_pad_survives_save_and_reload(tmp_path):
    model = visionmlp.create_model("mixer_s4_28", dynamic_img_pad=True).eval()
    model.save_pretrained(tmp_path)
    reloaded = visionmlp.create_model("mixer_s4_28", pretrained=tmp_path)
    x = torch.randn(1, 1, 27, 25)
    with torch.no_grad():
        assert torch.equal(reloaded(x), model(x))


def test_dynamic_img_pad_refused_where_any_size_works():
    any_size = [n for n in ("cyclemlp_s4_28", "asmlp_s4_28", "convmlp_s4_28") if n in visionmlp.list_models()]
    assert any_size
    for name in any_size:
        with pytest.raises(ValueError, match="any size.*drop dynamic_img_pad"):
            visionmlp.create_model(name, dynamic_img_pad=True)

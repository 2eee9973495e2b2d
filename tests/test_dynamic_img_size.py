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

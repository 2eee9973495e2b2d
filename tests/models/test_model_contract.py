"""The contract every registered model honours, checked on a tiny build of each variant."""

import pytest
import torch

import visionmlp
from visionmlp.models import get_entry

ALL_MODELS = visionmlp.list_models()


def build(name, **kwargs):
    torch.manual_seed(0)
    return visionmlp.create_model(name, **{**get_entry(name).tiny, **kwargs})


def batch_for(model, batch=2, seed=1):
    c, h, w = model.pretrained_cfg.input_size
    return torch.randn(batch, c, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_backward(name):
    model = build(name).train()
    x = batch_for(model)
    out = model(x)
    assert out.shape == (2, model.num_classes)
    assert torch.isfinite(out).all()
    out.float().pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters that get no gradient: {missing}"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_head_api(name):
    model = build(name).eval()
    x = batch_for(model)
    with torch.no_grad():
        feats = model.forward_features(x)
        pre = model.forward_head(feats, pre_logits=True)
        assert pre.shape == (2, model.num_features)
        assert torch.allclose(model.forward_head(feats), model(x), atol=1e-6)
        model.reset_classifier(5)
        assert model.get_classifier().out_features == 5
        assert model(x).shape == (2, 5)
        model.reset_classifier(0)
        assert model(x).shape == (2, model.num_features)
    for key in model.no_weight_decay():
        assert key in dict(model.named_parameters()), f"no_weight_decay names unknown parameter {key}"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_features_only(name):
    model = build(name)
    count = len(model.feature_info)
    backbone = build(name, features_only=True, out_indices=list(range(count))).eval()
    x = batch_for(backbone)
    with torch.no_grad():
        maps = backbone(x)
    assert len(maps) == count == len(backbone.feature_info)
    h, w = x.shape[-2:]
    for fmap, info in zip(maps, backbone.feature_info, strict=True):
        assert fmap.ndim == 4 and fmap.shape[:2] == (2, info["num_chs"]), (fmap.shape, info)
        r = info["reduction"]
        assert fmap.shape[-2] in (h // r, -(-h // r)) and fmap.shape[-1] in (w // r, -(-w // r)), (fmap.shape, info)
    default = build(name, features_only=True)
    assert len(default(x)) == len(default.feature_info) >= 1


@pytest.mark.parametrize("name", ALL_MODELS)
def test_in_chans_one(name):
    model = build(name, in_chans=1).eval()
    assert model.pretrained_cfg.input_size[0] == 1
    with torch.no_grad():
        assert model(batch_for(model)).shape == (2, model.num_classes)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_deterministic_under_seed(name):
    a, b = build(name).eval(), build(name).eval()
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb), ka
    x = batch_for(a)
    with torch.no_grad():
        assert torch.equal(a(x), a(x))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_eval_batch_independence(name):
    model = build(name).eval()
    _randomise_head(model)
    x = batch_for(model, batch=3)
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_grad_checkpointing_matches(name):
    torch.manual_seed(0)
    model = build(name).train()
    _randomise_head(model)
    x = batch_for(model)
    torch.manual_seed(3)
    ref = model(x)
    model.set_grad_checkpointing(True)
    torch.manual_seed(3)
    torch.testing.assert_close(model(x), ref, atol=1e-6, rtol=1e-5)


def _randomise_head(model):
    """Some families zero-initialise the head; give it values so that outputs depend on the input."""
    head = model.get_classifier()
    if isinstance(head, torch.nn.Linear):
        with torch.no_grad():
            head.weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(7))

"""The habits timm users bring work here: tagged names, ``list_models(pretrained=True)``, ``default_cfg`` and a
mapping ``pretrained_cfg``, ``resolve_data_config`` + ``create_transform``, ``torch.hub.load``, and a sentence
instead of a TorchScript trace for ``torch.jit.script``."""

import random
from pathlib import Path

import pytest
import torch
from PIL import Image

import visionmlp
from visionmlp.data import create_transform, resolve_data_config

REPO = Path(__file__).resolve().parents[2]


def test_tagged_names_and_pretrained_listing(monkeypatch, tmp_path):
    tagged = visionmlp.list_models("mixer_b16*", pretrained=True)
    assert tagged == ["mixer_b16_224.in1k", "mixer_b16_224.in21k"]
    assert "resmlp_12_224.dist" in visionmlp.list_models("resmlp_12_224*", pretrained=True)
    model = visionmlp.create_model("mixer_b16_224.goog_in21k", device="meta")  # timm's tag, built without weights
    assert type(model).__name__ == "MlpMixer"
    with pytest.raises(ValueError, match="has no weights tagged 'bogus'; its tags: in1k, in21k"):
        visionmlp.create_model("mixer_b16_224.bogus")
    monkeypatch.setenv("VISIONMLP_OFFLINE", "1")
    monkeypatch.setenv("VISIONMLP_CACHE", str(tmp_path))
    monkeypatch.delenv("VISIONMLP_WEIGHTS_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="Mixer-B_16_imagenet21k.npz"):  # the tag's file, not the first
        visionmlp.create_model("mixer_b16_224.in21k", pretrained=True)


def test_default_cfg_and_the_config_as_a_mapping():
    model = visionmlp.create_model("mixer_s4_28")
    assert model.default_cfg is model.pretrained_cfg
    assert model.pretrained_cfg["mean"] == (0.286,) and model.pretrained_cfg.get("nope", 7) == 7
    assert dict(model.pretrained_cfg)["input_size"] == (1, 28, 28)
    with pytest.raises(KeyError, match="pretrained_cfg has no 'size'; its fields: input_size"):
        model.pretrained_cfg["size"]


def test_resolve_data_config_and_create_transform_feed_a_grey_model_a_colour_picture():
    model = visionmlp.create_model("mixer_s4_28").eval()
    cfg = resolve_data_config({}, model=model)
    assert cfg["input_size"] == (1, 28, 28) and cfg["crop_pct"] == 1.0
    assert resolve_data_config({"crop_pct": 0.9}, model=model)["crop_pct"] == 0.9
    x = create_transform(**cfg)(Image.new("RGB", (30, 20), (200, 10, 10)))
    assert x.shape == (1, 28, 28)
    train_transform = create_transform(**cfg, is_training=True)
    assert train_transform(Image.new("RGB", (28, 28)), random.Random(0)).shape == (1, 28, 28)
    with torch.no_grad():
        assert model(x[None]).shape == (1, 10)


def test_torch_hub_loads_from_a_checkout():
    model = torch.hub.load(str(REPO), "mixer_s4_28", source="local", num_classes=3)
    assert model.num_classes == 3


def test_torchscript_says_what_to_use_instead_and_trace_works():
    model = visionmlp.create_model("mixer_s4_28").eval()
    with pytest.raises(NotImplementedError, match=r"use torch.jit.trace\(model, example_input\) or torch.export"):
        torch.jit.script(model)
    x = torch.randn(1, 1, 28, 28)
    with pytest.warns(torch.jit.TracerWarning):
        traced = torch.jit.trace(model, x)
    torch.testing.assert_close(traced(x), model(x))

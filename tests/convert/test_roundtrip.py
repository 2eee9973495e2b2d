"""What a user saves comes back the same: ``save_pretrained`` then ``create_model(name, pretrained=folder)`` returns
the same function, bit for bit, with the same architecture arguments, for every registered variant; a training run's
head, channels and class names reach every entry point; a file of the wrong kind is named for what it is."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import visionmlp
from visionmlp.cli import main
from visionmlp.models import get_entry, list_models
from visionmlp.models._weights import WEIGHTS_NAME, sniff_container
from visionmlp.train import load_checkpoint
from visionmlp.train.checkpoint import model_from_checkpoint

NAMES = list_models()


def _round_trip(name: str, folder, **kwargs) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    model = visionmlp.create_model(name, **{**get_entry(name).tiny, **kwargs}).eval()
    with torch.no_grad():
        for p in model.parameters():  # no zero-initialised head or LayerScale may hide a lost tensor
            p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(folder)
    return model, visionmlp.create_model(name, pretrained=folder).eval()


def _sequences_as_tuples(kwargs: dict) -> dict:
    """JSON has no tuples: ``depths=(1, 1)`` and ``[1, 1]`` build the same model."""
    return {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in kwargs.items()}


def _same_function(model, loaded, batch: int = 2) -> None:
    c, h, w = model.pretrained_cfg.input_size
    x = torch.randn(batch, c, h, w, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


@pytest.mark.parametrize("name", NAMES)
def test_every_variant_round_trips_with_its_head_channels_and_options(name, tmp_path):
    index = NAMES.index(name)
    kwargs = {"num_classes": 3 + index % 11, "in_chans": 1 + index % 4}
    if visionmlp.create_model(name, device="meta").supports_dynamic_img_size:
        kwargs["dynamic_img_size"] = True
    model, loaded = _round_trip(name, tmp_path, **kwargs)
    assert _sequences_as_tuples(loaded.build_kwargs) == _sequences_as_tuples(model.build_kwargs)
    assert (loaded.num_classes, loaded.pretrained_cfg.input_size[0]) == (kwargs["num_classes"], kwargs["in_chans"])
    assert getattr(loaded, "dynamic_img_size", False) is kwargs.get("dynamic_img_size", False)
    _same_function(model, loaded)


@settings(max_examples=15, deadline=None)
@given(num_classes=st.integers(1, 400), embed_dim=st.sampled_from([8, 16, 24, 40]))
def test_safetensors_is_recognised_whatever_its_header_length(tmp_path_factory, num_classes, embed_dim):
    """The header length's low byte is the file's first byte: 0x80 (a pickle's first byte) among others."""
    folder = tmp_path_factory.mktemp("saved")
    model, loaded = _round_trip("mixer_s4_28", folder, num_classes=num_classes, embed_dim=embed_dim)
    assert sniff_container(folder / WEIGHTS_NAME) == "safetensors"
    assert loaded.num_classes == num_classes
    _same_function(model, loaded, batch=1)


def test_a_header_starting_with_the_pickle_byte_is_safetensors(tmp_path):
    """mixer_s4_28 and mixer_s4_32 at their defaults write a header whose length's low byte is 0x80."""
    model, loaded = _round_trip("mixer_s4_28", tmp_path, num_classes=7)
    assert (tmp_path / WEIGHTS_NAME).read_bytes()[:1] == b"\x80"
    assert loaded.num_classes == 7
    _same_function(model, loaded)


def _image_folder(root, classes=("boot", "coat", "shirt"), per_class=8):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (28, 28), (40 * c, 10 * i, 0)).save(root / name / f"{i}.png")
    return root


def test_a_trained_head_survives_every_entry_point(tmp_path, capsys):
    """3 classes of RGB images into mixer_s4_28 (10 grey classes by default): the run's head, channels and class
    names come back through create_model, convert, validate and predict."""
    data, run, saved = _image_folder(tmp_path / "imf"), tmp_path / "run", tmp_path / "saved"
    argv = ["train", "--model", "mixer_s4_28", "--data", str(data), "--epochs", "1", "--val-split", "0.25",
            "--batch-size", "6", "--workers", "0", "--no-progress", "--output", str(run), "--model-kwargs",
            "{embed_dim: 16, num_blocks: 1, tokens_mlp_dim: 8, channels_mlp_dim: 16}"]  # fmt: skip
    assert main(argv) == 0
    assert "6 of them (25%, seed 0) held out for validation" in capsys.readouterr().out
    trained = model_from_checkpoint(load_checkpoint(run))
    loaded = visionmlp.create_model("mixer_s4_28", pretrained=run / "last.pth")
    assert (loaded.num_classes, loaded.in_chans) == (3, 3)
    assert loaded.pretrained_cfg.label_names == ("boot", "coat", "shirt")
    _same_function(trained, loaded)

    assert main(["convert", "--model", "mixer_s4_28", str(run / "last.pth"), str(saved)]) == 0
    assert "format visionmlp" in capsys.readouterr().out
    _same_function(trained, visionmlp.create_model("mixer_s4_28", pretrained=saved))

    assert main(["validate", str(saved), "--data", str(data), "--output", str(tmp_path)]) == 0
    assert "boot" in capsys.readouterr().out
    image = data / "coat" / "0.png"
    assert main(["predict", str(image), "--checkpoint", str(saved), "--topk", "3"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("boot", "coat", "shirt"))


@pytest.mark.parametrize("command", [["validate", "{png}"], ["predict", "{png}", "--checkpoint", "{png}"]])
def test_a_picture_passed_as_a_checkpoint_is_called_a_picture(tmp_path, capsys, command):
    png = tmp_path / "picture.png"
    Image.new("RGB", (8, 8)).save(png)
    assert main([arg.format(png=png) for arg in command]) == 2
    err = capsys.readouterr().err
    assert "is not a checkpoint visionmlp can read: it looks like a PNG image" in err and "pickle" not in err

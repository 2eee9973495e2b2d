"""The project's trained weights: ``visionmlp export release`` writes a run's final weights as one float16 file with
its measured top-1; placed under the package's ``weights/<dataset>/`` it is the variant's ``.<dataset>`` tag, loaded by
``create_model(..., pretrained=True)``, ``validate`` and ``predict``, and scores what its header says."""

import contextlib
import io
import json
import re

import pytest
import torch
from PIL import Image
from safetensors import safe_open

import visionmlp
from visionmlp import hub
from visionmlp.cli import main

QUICK = ["--epochs", "1", "--batch-size", "32", "--limit-train", "256", "--limit-val", "128", "--no-progress",
         "--workers", "0", "--ema", "--ema-decay", "0.5"]  # fmt: skip


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A short run on synthetic data, released into a stand-in for the package's weights folder."""
    root = tmp_path_factory.mktemp("release")
    run = root / "run"
    assert main(["train", "--model", "mixer_s4_28", "--data", "synthetic", "--output", str(run), *QUICK]) == 0
    out = root / "weights" / "synthetic" / "mixer_s4_28.safetensors"
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        assert main(["export", "release", "--checkpoint", str(run), "--ema", "--out", str(out)]) == 0
    line = said.getvalue()
    assert re.search(r"top-1 \d+\.\d\d% on the test split of synthetic \([\d,]+ images\)", line), line
    return root / "weights", out


@pytest.fixture
def bundled(released, monkeypatch):
    monkeypatch.setattr(hub, "BUNDLED_DIR", released[0])
    return released[1]


def test_release_file_is_float16_and_says_what_it_scored(released):
    _, path = released
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118
    assert dtypes == {torch.float16}
    assert (meta["data"], meta["eval_split"], meta["architecture"]) == ("synthetic", "test", "mixer_s4_28")
    assert meta["weights"] == "ema"  # released with --ema: the header says which weights the file holds
    assert 0 <= float(meta["top1"]) <= 100 and json.loads(meta["training"])["epochs"] == 1
    assert path.stat().st_size < 0.6 * 4 * sum(p.numel() for p in visionmlp.create_model("mixer_s4_28").parameters())


def test_tagged_weights_load_like_timms(bundled):
    assert "mixer_s4_28.synthetic" in visionmlp.list_models("mixer_s4_28*", pretrained=True)
    model = visionmlp.create_model("mixer_s4_28.synthetic", pretrained=True)
    assert model.load_report.format == "visionmlp" and next(model.parameters()).dtype == torch.float32
    assert model.pretrained_cfg.label_names is not None and len(model.pretrained_cfg.label_names) == 10
    with safe_open(str(bundled), "pt") as f:
        halved = f.get_tensor("head.weight")
    assert torch.equal(model.head.weight, halved.float())


def test_validate_reproduces_the_released_top1(bundled, capsys, tmp_path):
    with safe_open(str(bundled), "pt") as f:
        claimed = float(f.metadata()["top1"])
    assert main(["validate", "mixer_s4_28.synthetic", "--output", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "validation.json").read_text())
    assert summary["split"] == "test" and abs(100 * summary["top1"] - claimed) <= 0.05


def test_predict_takes_the_tagged_name(bundled, capsys, tmp_path):
    Image.new("L", (28, 28), 128).save(tmp_path / "grey.png")
    assert main(["predict", str(tmp_path / "grey.png"), "--model", "mixer_s4_28.synthetic", "--topk", "2"]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'grey.png'}: class_")
    assert main(["predict", str(tmp_path / "grey.png"), "--model", "mixer_s4_28"]) == 2
    assert "--model takes a variant with its weights' tag" in capsys.readouterr().err


SHIPPED = sorted(hub.BUNDLED_DIR.glob("*/*.safetensors"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.stem}.{p.parent.name.replace('-', '_')}")
def test_every_shipped_weight_file_reproduces_its_top1(path, tmp_path):
    """The files the package ships (the Fashion-MNIST table's released rows) score what their headers say."""
    with safe_open(str(path), "pt") as f:
        claimed = float(f.metadata()["top1"])
    tagged = f"{path.stem}.{path.parent.name.replace('-', '_')}"
    assert main(["validate", tagged, "--output", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "validation.json").read_text())
    assert summary["split"] == "test" and summary["images"] == 10000
    assert abs(100 * summary["top1"] - claimed) <= 0.05


@pytest.mark.skipif(not SHIPPED, reason="the package ships no weight file")
def test_validating_a_shipped_weight_writes_to_the_working_folder_not_the_package(tmp_path, monkeypatch):
    path = SHIPPED[0]
    before = sorted(path.parent.iterdir())
    monkeypatch.chdir(tmp_path)
    assert main(["validate", f"{path.stem}.{path.parent.name.replace('-', '_')}", "--limit", "64"]) == 0
    assert json.loads((tmp_path / "validation.json").read_text())["images"] == 64
    assert sorted(path.parent.iterdir()) == before  # the installed package is left as it was

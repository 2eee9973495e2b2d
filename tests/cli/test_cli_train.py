"""``visionmlp train / validate / predict`` end to end on tiny models and data, recipes and overrides."""

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from visionmlp import create_model
from visionmlp.cli import main
from visionmlp.data import fashion_mnist_dir
from visionmlp.layers import linear as linear_module
from visionmlp.models import get_entry, list_models
from visionmlp.models._base import VisionModel
from visionmlp.train import load_checkpoint
from visionmlp.utils.capabilities import capabilities
from visionmlp.utils.cpu import cpu_summary

REPO = Path(__file__).resolve().parents[2]
TINY = "{embed_dim: 16, num_blocks: 1, tokens_mlp_dim: 8, channels_mlp_dim: 16}"
QUICK = ["--workers", "0", "--no-progress", "--batch-size", "16", "--limit-train", "32", "--limit-val", "32"]


def test_train_validate_predict(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model: mixer_s4_28\ndata: synthetic\nepochs: 3\nlr: 0.003\nema: true\n")
    run = tmp_path / "run"
    argv = ["train", "-c", str(recipe), "--epochs", "1", "--model-kwargs", TINY, "--output", str(run), *QUICK]
    assert main(argv) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["epochs"] == 1 and saved["lr"] == 0.003 and saved["ema"] is True  # flag beats recipe
    assert {"last.pth", "best.pth", "summary.csv", "config.yaml"} <= {p.name for p in run.iterdir()}
    assert "val top-1" in capsys.readouterr().out

    assert main(["validate", str(run / "best.pth"), "--limit", "20", "--ema"]) == 0
    report = json.loads((run / "validation.json").read_text())
    assert report["images"] == 20 and len(report["per_class"]) == 10 and len(report["confusion"]) == 10
    assert (run / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "top-1" in capsys.readouterr().out

    image = tmp_path / "shirt.png"
    Image.new("RGB", (40, 40), (90, 90, 90)).save(image)
    assert main(["predict", str(image), "--checkpoint", str(run), "--topk", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{image}: class_") and line.count("%") == 3

    assert main(["train", "--model", "mixer_s4_28", "--data", "synthetic", "--output", str(run), *QUICK]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_validate_scores_the_fused_packed_model_exactly(tmp_path, monkeypatch, capsys):
    """validate runs the fast inference path (fuse + pack) and scores what the plain model scores."""
    run = tmp_path / "run"
    argv = ["train", "--model", "resmlp_s4_28", "--data", "synthetic", "--epochs", "1", "--output", str(run), *QUICK]
    assert main(argv) == 0
    packed = []
    real = linear_module.packed_linear
    monkeypatch.setattr(linear_module, "packed_linear", lambda *a, **k: packed.append(1) or real(*a, **k))
    assert main(["validate", str(run), "--output", str(tmp_path / "fast")]) == 0
    assert packed, "validate did not take the packed path"
    monkeypatch.setattr(VisionModel, "for_inference", lambda self: self.eval())
    assert main(["validate", str(run), "--output", str(tmp_path / "plain")]) == 0
    fast, plain = (json.loads((tmp_path / d / "validation.json").read_text()) for d in ("fast", "plain"))
    assert fast["loss"] == pytest.approx(plain["loss"], abs=1e-5)
    assert fast["confusion"] == plain["confusion"]
    capsys.readouterr()


def test_resume_does_not_reread_pretrained(tmp_path, capsys):
    """A resumed run rebuilds the architecture it saved and takes its weights from the checkpoint, so the
    --pretrained folder it started from may be gone by then."""
    weights = tmp_path / "weights"
    tiny = yaml.safe_load(TINY)
    create_model("mixer_s4_28", num_classes=10, in_chans=1, **tiny).save_pretrained(weights)
    run = tmp_path / "run"
    argv = ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--pretrained", str(weights), "--epochs", "1"]
    assert main([*argv, "--output", str(run), *QUICK]) == 0
    shutil.rmtree(weights)
    assert main(["train", "--resume", str(run), "--epochs", "2", *QUICK]) == 0
    assert "resumed from" in capsys.readouterr().out
    ckpt = load_checkpoint(run)
    assert ckpt["train_state"]["epoch"] == 2
    assert ckpt["meta"]["build_kwargs"]["embed_dim"] == tiny["embed_dim"]  # the saved folder's architecture


def test_threads_are_set_per_run_logged_per_epoch_and_given_back(tmp_path, capsys):
    """--threads sets the run's compute threads (several runs can share a machine), each epoch row records them
    and its CPU (what its seconds cost in CPU time, and where, also across a resume with other threads), and the
    caller's come back."""
    before, run = torch.get_num_threads(), tmp_path / "run"
    argv = ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--model-kwargs", TINY, "--epochs", "1"]
    assert main([*argv, "--output", str(run), "--threads", "1", *QUICK]) == 0
    assert "(1 thread(s) each)" in capsys.readouterr().out and torch.get_num_threads() == before
    assert main(["train", "--resume", str(run), "--epochs", "2", "--threads", "3", *QUICK]) == 0
    with (run / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [row["threads"] for row in rows] == ["1", "3"] and {row["cpu"] for row in rows} == {cpu_summary()}
    assert torch.get_num_threads() == before
    assert main([*argv, "--output", str(tmp_path / "bad"), "--threads", "0", *QUICK]) == 2
    assert "--threads" in capsys.readouterr().err


def test_demo_trains_within_its_budget(tmp_path, capsys):
    """`make demo`'s command: a time-budgeted run in the hardware's precision that ends with the test accuracy, and
    says on which CPU kind, in which precision and how fast it trained."""
    run = tmp_path / "demo"
    assert main(["demo", "--data", "synthetic", "--minutes", "0.05", "--batch-size", "32", "--output", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"kind {capabilities().kind}" in out and "\nprecision: " in out
    assert re.search(r"trained \d+ steps in \d+ s \(\d+ images/s\); test top-1", out)
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["amp"] == "auto" and config["time_budget"] == pytest.approx(3.0)
    assert main(["demo", "--minutes", "0"]) == 2
    assert "--minutes must be positive" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path, capsys):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("learning_rate: 1\n")
    assert main(["train", "-c", str(recipe), "--output", str(tmp_path / "x")]) == 2
    assert "unknown setting(s) learning_rate" in capsys.readouterr().err
    assert main(["predict", "nope.png", "--checkpoint", str(tmp_path)]) == 2


def test_recipes_cover_every_family():
    """One 10-epoch recipe per family; its header states its measured result (docs/results), or that there is none."""
    results = json.loads((REPO / "docs" / "results" / "fashion-mnist-10-epochs.json").read_text())
    measured = {r["model"]: r for r in results}
    for name in list_models("*_28"):
        family = get_entry(name).family
        path = REPO / "configs" / "fashion_mnist" / f"{family}.yaml"
        text = path.read_text()
        header = text.splitlines()[1]
        assert yaml.safe_load(text)["model"] == name
        if name in measured:
            assert f"Measured test top-1: {100 * measured[name]['test_top1']:.2f}%" in header
            assert f"{measured[name]['epochs']} epochs" in header
        else:
            assert "Measured test top-1: not yet measured" in header


def test_train_mixer_on_real_fashion_mnist(tmp_path):
    if not (fashion_mnist_dir() / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Fashion-MNIST is not installed (make data installs it)")
    argv = ["train", "--model", "mixer_s4_28", "--data", "fashion-mnist", "--epochs", "1", "--limit-train", "512",
            "--limit-val", "64", "--batch-size", "256", "--workers", "0", "--no-progress",
            "--output", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert len((tmp_path / "summary.csv").read_text().splitlines()) == 2

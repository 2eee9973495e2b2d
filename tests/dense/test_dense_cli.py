"""``visionmlp train --task segment|detect`` end to end on Fashion-MNIST mosaics, resumed, then ``validate``."""

import csv
import json

import numpy as np
import pytest
import torch

from helpers.fake_data import squares_fashion_mnist
from visionmlp.cli import main

QUICK = ["--model", "convmlp_s4_28", "--data", "fashion-mnist-mosaic", "--batch-size", "8", "--limit-train", "32",
         "--limit-val", "8", "--workers", "0", "--no-progress", "--ema", "--ema-decay", "0.5"]  # fmt: skip


@pytest.fixture(autouse=True)
def fake_fashion_mnist(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VISIONMLP_FASHION_MNIST", str(squares_fashion_mnist(tmp_path_factory.mktemp("fmnist"))))


@pytest.mark.parametrize("task, headline", [("segment", "miou"), ("detect", "map")])
def test_train_resume_validate(tmp_path, capsys, task, headline):
    if task == "detect":
        pytest.importorskip("pycocotools", reason="the dense extra (pycocotools) is not installed")
    run = tmp_path / "run"
    assert main(["train", "--task", task, *QUICK, "--epochs", "1", "--output", str(run)]) == 0
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert f"final: val {headline} " in out and "resumed from" in out
    rows = list(csv.DictReader((run / "summary.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and 0 <= float(rows[-1][f"val_{headline}"]) <= 1
    assert f"ema_{headline}" in rows[-1]
    assert main(["validate", str(run), "--ema", "--limit", "8"]) == 0  # the run's own 8 validation canvases
    summary = json.loads((run / "validation.json").read_text())
    assert summary["task"] == task and 0 <= summary[headline] <= 1
    assert summary[headline] == pytest.approx(float(rows[-1][f"ema_{headline}"]))  # the run's own score, again


def test_dense_task_needs_dense_data(tmp_path, capsys):
    argv = ["train", "--task", "segment", "--model", "convmlp_s4_28", "--data", "synthetic", "--epochs", "1",
            "--output", str(tmp_path / "r")]  # fmt: skip
    assert main(argv) == 2
    assert "--task segment needs dense data" in capsys.readouterr().err
    assert main(["train", "--task", "detect", *QUICK, "--mixup", "0.2", "--output", str(tmp_path / "s")]) == 2
    assert "mixup is a classification setting; drop it" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["convmlp_s4_28", "mixer_s4_28"])
def test_a_segmentation_run_scores_at_other_canvas_sizes(tmp_path, capsys, model):
    """Trained at 96x96, a run is scored on larger and non-square canvases: a hierarchical backbone natively, a
    fixed-grid one through dynamic_img_size (its token mixing resampled to each canvas's grid)."""
    run = tmp_path / "run"
    extra = ["--model-kwargs", "{dynamic_img_size: true}"] if model == "mixer_s4_28" else []
    argv = ["train", "--task", "segment", *QUICK, "--model", model, *extra, "--epochs", "1", "--output", str(run)]
    assert main(argv) == 0
    for size in ("128x128", "80x112"):
        assert main(["validate", str(run), "--data", f"fashion-mnist-mosaic:{size}", "--limit", "4"]) == 0
        summary = json.loads((run / "validation.json").read_text())
        assert summary["data"].endswith(size) and 0 <= summary["miou"] <= 1


def test_predict_draws_the_prediction_over_the_image(tmp_path, capsys):
    from PIL import Image

    from visionmlp.dense.detect import Detections
    from visionmlp.dense.overlay import overlay_detections, overlay_segmentation, palette

    run = tmp_path / "run"
    assert main(["train", "--task", "detect", *QUICK, "--epochs", "1", "--output", str(run)]) == 0
    Image.new("L", (40, 30), 0).save(tmp_path / "shoe.png")
    assert main(["predict", str(tmp_path / "shoe.png"), "--checkpoint", str(run), "--overlay-dir", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert Image.open(tmp_path / "shoe_detect.png").size == (160, 120)  # drawn 4x larger
    image, class_map = torch.zeros(1, 2, 3), torch.tensor([[0, 2, 2], [0, 0, 1]])
    seg = np.asarray(overlay_segmentation(image, class_map, 3, scale=1))
    assert (seg[0, 0] == 0).all() and (seg[0, 1] == np.array(palette(3)[2]) // 2).all()  # half over a black image
    det = overlay_detections(torch.zeros(1, 20, 20), Detections(torch.tensor([[2.0, 2, 10, 10]]), torch.ones(1),
                                                                torch.tensor([0])), ["bag"], scale=1)  # fmt: skip
    assert np.asarray(det)[2, 5].any()  # the box's top edge is drawn

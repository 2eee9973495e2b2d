"""Defaults that no longer punish short runs and pipes: the warm-up fits the run, `--help` shows the defaults,
`predict` says when it resizes, and a closed stdout ends a command quietly."""

import os
import subprocess
import sys

import pytest
from PIL import Image

from visionmlp.cli import main
from visionmlp.cli.train import find_recipe, load_recipe
from visionmlp.data import build_dataset
from visionmlp.models import build_model
from visionmlp.train import TrainConfig, Trainer

TINY = {"embed_dim": 16, "num_blocks": 1, "tokens_mlp_dim": 8, "channels_mlp_dim": 16}


def test_a_one_epoch_run_is_not_all_warm_up():
    said = []
    cfg = TrainConfig(epochs=1, batch_size=16, workers=0, progress=False)  # warmup_epochs defaults to 1
    train, val = build_dataset("synthetic", "train").limit(160), build_dataset("synthetic", "val").limit(16)
    trainer = Trainer(cfg, build_model("mixer_s4_28", **TINY), train, val, log=said.append)
    assert trainer.schedule.warmup_steps == 2  # 20% of the 10 steps, not all 10
    assert said == ["warm-up shortened to 2 steps, 20% of this 10-step run (--warmup-epochs 1 would take 100%)"]
    long = Trainer(TrainConfig(epochs=10, batch_size=16, workers=0, progress=False), build_model("mixer_s4_28", **TINY),
                   train, val, log=said.append)  # fmt: skip
    assert long.schedule.warmup_steps == 10 and len(said) == 1  # a 10% warm-up is left as asked


def test_train_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    shown = [
        "--model STR registered model name (`visionmlp list-models`) (default: mixer_s4_28)",
        "--lr FLOAT peak learning rate (default: 0.001)",
        "--ema, --no-ema keep an exponential moving average of the weights (default: off)",
    ]
    assert all(line in text for line in shown)
    assert "(default: none)" in text.split("--time-budget", 1)[1]


def test_predict_says_when_it_resizes(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--epochs", "1", "--workers", "0",
            "--no-progress", "--batch-size", "16", "--limit-train", "32", "--limit-val", "16", "--output", str(run),
            "--model-kwargs", "{embed_dim: 16, num_blocks: 1, tokens_mlp_dim: 8, channels_mlp_dim: 16}"]  # fmt: skip
    assert main(argv) == 0
    wide, exact = tmp_path / "wide.png", tmp_path / "exact.png"
    Image.new("L", (30, 20)).save(wide)
    Image.new("L", (28, 28)).save(exact)
    capsys.readouterr()
    assert main(["predict", str(wide), str(exact), "--checkpoint", str(run)]) == 0
    err = capsys.readouterr().err
    assert f"note: {wide} is 30x20; the model sees it resized" in err and str(exact) not in err


def test_a_closed_pipe_ends_the_command_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "visionmlp.cli", "list-models", "--details"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    proc.stdout.close()  # as `| head` does once it has its lines
    assert proc.wait(60) == 0
    assert proc.stderr.read() == b""


@pytest.mark.parametrize(("load", "warned"), [(3.0, True), (0.0, False)])
def test_benchmark_warns_when_other_work_keeps_the_cores_busy(monkeypatch, capsys, load, warned):
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    argv = ["benchmark", "mixer_s4_28", "--threads", "2", "--measure", "latency", "--rounds", "1", "--warmup", "0",
            "--no-memory"]  # fmt: skip
    assert main(argv) == 0
    assert ("other work competes with the benchmark's 2 threads" in capsys.readouterr().err) is warned


def test_recipes_ship_with_the_package_and_load_from_any_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no configs/ here: the installed package's own recipes are found
    for name in ("configs/fashion_mnist/mixer.yaml", "fashion_mnist/mixer.yaml", "fashion_mnist/mixer"):
        recipe = find_recipe(name)
        assert recipe.is_file() and recipe.parent.parent.name == "configs" and "visionmlp" in recipe.parts
        assert load_recipe(name)["model"] == "mixer_s4_28"
    assert main(["train", "-c", "fashion_mnist/mlp_mixer"]) == 2
    assert "fashion_mnist/mixer, fashion_mnist/resmlp" in capsys.readouterr().err

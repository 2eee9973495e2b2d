"""Bad input to the ``visionmlp`` command, as a table: every case ends with ONE line on stderr that names
the problem and the fix, no traceback, and exit status 2 (a usage error) or 1 (a failure while running).

``docs/reliability.md`` lists the same cases with their messages.
"""

import builtins
import io
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import visionmlp
from visionmlp.cli import main
from visionmlp.train.checkpoint import CHECKPOINT_FORMAT

TINY = "{embed_dim: 16, num_blocks: 1, tokens_mlp_dim: 8, channels_mlp_dim: 16}"
QUICK = ["--workers", "0", "--no-progress", "--batch-size", "16", "--limit-train", "32", "--limit-val", "16",
         "--epochs", "1"]  # fmt: skip


def _train(f, *extra, data="synthetic"):
    return ["train", "--model", "mixer_s4_28", "--data", str(data), "--model-kwargs", TINY, *QUICK,
            "--output", str(f.tmp / "run"), *extra]  # fmt: skip


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.fixture
def files(tmp_path):
    """Small bad inputs, made once per test: each case picks what it needs."""
    f = SimpleNamespace(tmp=tmp_path)
    f.empty_dir = tmp_path / "empty"
    f.empty_dir.mkdir()
    f.junk_dir = tmp_path / "junk"
    for cls in ("a", "b"):
        (f.junk_dir / cls).mkdir(parents=True)
        (f.junk_dir / cls / "notes.txt").write_text("not an image")
        (f.junk_dir / cls / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    f.half_mnist = tmp_path / "half_mnist"
    f.half_mnist.mkdir()
    header = b"".join(v.to_bytes(4, "big") for v in (2051, 0, 28, 28))  # a whole (empty) IDX image file
    (f.half_mnist / "train-images-idx3-ubyte").write_bytes(header)
    f.bad_mnist = tmp_path / "bad_mnist"
    f.bad_mnist.mkdir()
    (f.bad_mnist / "train-images-idx3-ubyte").write_bytes(b"GIF89a")
    f.evil = tmp_path / "evil.pth"
    torch.save({"model": _Exploit()}, f.evil)
    f.evil_legacy = tmp_path / "evil_legacy.pth"
    f.evil_legacy.write_bytes(pickle.dumps(_Exploit(), protocol=2))
    f.state_dict = tmp_path / "weights.pth"
    model = visionmlp.create_model("mixer_s4_28", **_kwargs(TINY))
    torch.save(model.state_dict(), f.state_dict)
    for kind in ("safetensors", "pth", "npz"):
        path = tmp_path / f"cut.{kind}"
        if kind == "safetensors":
            model.save_pretrained(tmp_path / "saved")
            path.write_bytes((tmp_path / "saved" / "model.safetensors").read_bytes())
        elif kind == "pth":
            torch.save(model.state_dict(), path)
        else:
            with open(path, "wb") as out:
                np.savez(out, **{k: v.numpy() for k, v in model.state_dict().items()})
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    f.run = tmp_path / "trained.pth"
    torch.save(_training_checkpoint(model), f.run)
    f.text_image = tmp_path / "photo.png"
    f.text_image.write_text("this is not a picture")
    f.recipe_exploit = tmp_path / "exploit.yaml"
    f.recipe_exploit.write_text("lr: !!python/object/apply:os.system ['echo pwned']\n")
    f.recipe_float_epochs = tmp_path / "epochs.yaml"
    f.recipe_float_epochs.write_text("epochs: 2.5\n")
    f.recipe_list = tmp_path / "list.yaml"
    f.recipe_list.write_text("- lr\n- 0.1\n")
    f.a_file = tmp_path / "a_file"
    f.a_file.write_text("x")
    return f


def _existing_run(f) -> list[str]:
    (f.tmp / "run").mkdir()
    (f.tmp / "run" / "last.pth").write_bytes(b"")
    return _train(f)


def _training_checkpoint(model) -> dict:
    """What `visionmlp train` saves, as far as validate and predict read it."""
    meta = {"model": "mixer_s4_28", "build_kwargs": dict(model.build_kwargs), "classes": [f"class_{i}" for i in
            range(model.num_classes)], "input": model.pretrained_cfg.to_dict()}  # fmt: skip
    return {"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "ema": None, "meta": meta,
            "config": {"data": "synthetic"}}  # fmt: skip


def _kwargs(text: str) -> dict:
    import yaml

    return yaml.safe_load(text)


# (id, argv from the files, exit status, a pattern the one line must match)
CASES = [
    # unknown names
    ("unknown-model", lambda f: ["train", "--model", "mixer_nope", "--data", "synthetic", *QUICK],
     2, r"unknown model 'mixer_nope'.*Did you mean"),
    ("unknown-model-export", lambda f: ["export", "onnx", "--model", "gmlp_zz", "--out", str(f.tmp / "m.onnx")],
     2, r"unknown model 'gmlp_zz'"),
    ("unknown-subcommand", lambda f: ["trian"], 2, r"invalid choice: 'trian'.*--help"),
    ("unknown-flag", lambda f: ["train", "--learning-rate", "1"], 2, r"unrecognized arguments: --learning-rate"),
    ("unknown-recipe-key", lambda f: ["train", "-c", str(f.recipe_list)], 2, r"must be a mapping of settings"),
    ("unknown-model-arg", lambda f: ["export", "onnx", "--model", "mixer_s4_28", "--arg", "depth=2", "--out",
                                     str(f.tmp / "m.onnx")], 2, r"unknown argument\(s\) depth.*valid arguments"),
    # model arguments that do not fit the data or the model
    ("wrong-in-chans", lambda f: ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--model-kwargs",
                                  "{in_chans: 3}", *QUICK], 2, r"needs in_chans=1; remove in_chans from"),
    ("wrong-num-classes", lambda f: ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--model-kwargs",
                                     "{num_classes: 4}", *QUICK], 2, r"needs num_classes=10"),
    ("img-size-not-multiple", lambda f: _train(f, "--img-size", "30"), 2, r"not a multiple of patch_size"),
    ("img-size-negative", lambda f: ["export", "onnx", "--model", "mixer_s4_28", "--arg", "img_size=(28, -4)",
                                     "--out", str(f.tmp / "m.onnx")], 2, r"img_size must be a positive integer"),
    ("model-arg-zero", lambda f: ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--model-kwargs",
                                  "{embed_dim: 0}", *QUICK], 2, r"embed_dim must be a positive integer"),
    # out-of-range and mistyped hyper-parameters
    ("lr-negative", lambda f: _train(f, "--lr", "-0.1"), 2, r"lr must be > 0, got -0.1.*--lr"),
    ("epochs-0", lambda f: _train(f, "--epochs", "0"), 2, r"epochs must be > 0, got 0"),
    ("batch-size-0", lambda f: _train(f, "--batch-size", "0"), 2, r"batch_size must be > 0"),
    ("mixup-negative", lambda f: _train(f, "--mixup", "-1"), 2, r"mixup must be >= 0"),
    ("drop-path-1", lambda f: _train(f, "--drop-path-rate", "1.0"), 2, r"drop_path_rate must be >= 0 and < 1"),
    ("label-smoothing-1", lambda f: _train(f, "--label-smoothing", "1"), 2, r"label_smoothing must be >= 0 and < 1"),
    ("ema-decay-1.5", lambda f: _train(f, "--ema-decay", "1.5"), 2, r"ema_decay must be > 0 and < 1"),
    ("limit-train-0", lambda f: _train(f, "--limit-train", "0"), 2, r"limit_train must be > 0"),
    ("workers-negative", lambda f: _train(f, "--workers", "-1"), 2, r"workers must be >= 0"),
    ("epochs-not-int-flag", lambda f: _train(f, "--epochs", "2.5"), 2, r"invalid int value: '2.5'"),
    ("epochs-not-int-recipe", lambda f: ["train", "-c", str(f.recipe_float_epochs)], 2, r"epochs must be an int"),
    ("topk-0", lambda f: ["predict", str(f.text_image), "--checkpoint", str(f.tmp), "--topk", "0"], 2,
     r"argument --topk: expected an integer >= 1, got '0'"),
    ("validate-batch-size-0", lambda f: ["validate", str(f.run), "--batch-size", "0"], 2,
     r"argument --batch-size: expected an integer >= 1, got '0'"),
    ("validate-workers-negative", lambda f: ["validate", str(f.run), "--workers", "-2"], 2,
     r"argument --workers: expected an integer >= 0, got '-2'"),
    ("batch-too-big", lambda f: _train(f, "--batch-size", "64"), 2, r"fewer than one batch of 64; lower --batch-size"),
    # numerical faults: status 1, a failure while running
    ("nan-loss", lambda f: _train(f, "--lr", "1e38", "--warmup-epochs", "0", "--opt", "sgd", "--momentum", "0"), 1,
     r"the loss is NaN/Inf at step 2 .*--skip-nonfinite allows 0 skipped batches; no checkpoint was written"),
    # conflicting options
    ("flag-and-model-kwargs", lambda f: ["train", "--model", "mixer_s4_28", "--data", "synthetic", "--model-kwargs",
                                         "{drop_path_rate: 0.2}", "--drop-path-rate", "0.1", *QUICK], 2,
     r"drop_path_rate is given twice.*keep one"),
    ("accum-not-divisor", lambda f: _train(f, "--accum-steps", "3"), 2, r"must be divisible by"),
    ("output-is-a-file", lambda f: [*_train(f), "--output", str(f.a_file)], 2, r"is a file; pass a folder"),
    ("existing-run", lambda f: _existing_run(f), 2, r"already holds a run; pass --resume"),
    # data that is missing, empty or broken
    ("data-missing", lambda f: _train(f, data=f.tmp / "nowhere"), 2, r"neither 'fashion-mnist', 'synthetic' nor"),
    ("data-empty-folder", lambda f: _train(f, data=f.empty_dir), 2, r"has no class folders"),
    ("data-only-junk", lambda f: _train(f, data=f.junk_dir), 2, r"holds no readable images \(4 files skipped\)"),
    ("fashion-mnist-half", lambda f: _train(f, data=f.half_mnist), 2, r"train-labels-idx1-ubyte\(\.gz\) not found"),
    ("fashion-mnist-damaged", lambda f: _train(f, data=f.bad_mnist), 2, r"not an IDX file .*bad magic number"),
    ("predict-not-an-image", lambda f: ["predict", str(f.text_image), "--checkpoint", str(f.run)], 2,
     r"photo.png is not a readable image"),
    ("predict-missing-image", lambda f: ["predict", str(f.tmp / "gone.png"), "--checkpoint", str(f.run)], 2,
     r"image .*gone.png not found"),
    ("validate-ema-missing", lambda f: ["validate", str(f.run), "--ema"], 2, r"no EMA weights.*without --ema"),
    ("validate-wrong-data", lambda f: ["validate", str(f.run), "--data", str(f.junk_dir)], 2,
     r"holds no readable images"),
    # untrusted and damaged files
    ("recipe-python-tag", lambda f: ["train", "-c", str(f.recipe_exploit)], 2,
     r"exploit.yaml is not plain YAML .*python/object/apply:os.system.*refused"),
    ("model-kwargs-python-tag", lambda f: ["train", "--model-kwargs", "!!python/object/apply:os.system ['x']"], 2,
     r"not a plain YAML mapping"),
    ("validate-evil-pickle", lambda f: ["validate", str(f.evil)], 2, r"evil.pth: refused to load.*would run code"),
    ("predict-evil-pickle", lambda f: ["predict", str(f.text_image), "--checkpoint", str(f.evil)], 2,
     r"refused to load"),
    ("convert-evil-pickle", lambda f: ["convert", "--model", "mixer_s4_28", str(f.evil), str(f.tmp / "out")], 2,
     r"evil.pth: refused to load.*would run code"),
    ("convert-evil-legacy-pickle", lambda f: ["convert", "--model", "mixer_s4_28", str(f.evil_legacy),
                                              str(f.tmp / "out")], 2, r"evil_legacy.pth: refused to load"),
    ("validate-state-dict", lambda f: ["validate", str(f.state_dict)], 2,
     r"weights.pth is not a checkpoint written by `visionmlp train`"),
    ("validate-truncated", lambda f: ["validate", str(f.tmp / "cut.pth")], 2,
     r"cut.pth is not a readable PyTorch checkpoint \(truncated or corrupted\?\)"),
    ("validate-missing", lambda f: ["validate", str(f.tmp / "none.pth")], 2, r"no checkpoint at .*none.pth"),
    *[(f"convert-truncated-{kind}", (lambda k: lambda f: ["convert", "--model", "mixer_s4_28", "--arg",
                                                           "embed_dim=16", str(f.tmp / f"cut.{k}"),
                                                           str(f.tmp / "out")])(kind),
       2, rf"cut.{kind} .*(truncated|damaged|corrupt)") for kind in ("safetensors", "pth", "npz")],
]  # fmt: skip


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert lines and all(line.startswith("visionmlp") for line in lines), err
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, err
    return errors[0]


def _status(argv: list[str]) -> int:
    """main()'s exit status, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("argv, status, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(files, capsys, argv, status, pattern):
    assert _status(argv(files)) == status
    line = _one_line(capsys)
    assert re.search(pattern, line), line
    assert not (files.tmp / "out").exists()  # nothing half-written


def test_missing_fashion_mnist_names_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VISIONMLP_FASHION_MNIST", str(tmp_path))
    assert main(["train", "--data", "fashion-mnist", "--output", str(tmp_path / "run"), *QUICK]) == 2
    assert "apt-get install dataset-fashion-mnist" in _one_line(capsys)


def test_mixed_folder_trains_and_warns_one_line_per_bad_file(files, capsys):
    for cls in ("a", "b"):
        for i in range(16):
            Image.new("L", (28, 28), 40 * i % 255).save(files.junk_dir / cls / f"{i}.png")
    assert main(_train(files, data=files.junk_dir)) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    warnings = [line for line in lines if line.startswith("visionmlp train: warning: skipping")]
    assert len(warnings) == 4 and len(lines) == 4, lines


@pytest.fixture
def unreadable(monkeypatch):
    """Make paths unreadable with chmod 000; as root, whom permissions do not stop, opening or listing them
    is made to raise the PermissionError that chmod gives any other user."""
    denied: dict[Path, int] = {}

    def guard(real):
        def call(path, *args, **kwargs):
            if isinstance(path, (str, os.PathLike)) and Path(os.fspath(path)) in denied:
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path, *args, **kwargs)

        return call

    def make(path: Path) -> Path:
        denied[path] = path.stat().st_mode
        path.chmod(0)
        if os.access(path, os.R_OK) and len(denied) == 1:  # root: permissions do not bite
            for module, name in ((builtins, "open"), (io, "open"), (os, "listdir"), (os, "scandir")):
                monkeypatch.setattr(module, name, guard(getattr(module, name)))
        return path

    yield make
    for path, mode in denied.items():
        path.chmod(mode)


@pytest.mark.parametrize("what", ["recipe", "checkpoint", "data-folder"])
def test_unreadable_paths_are_usage_errors(files, unreadable, capsys, what):
    if what == "recipe":
        argv = ["train", "-c", str(unreadable(files.recipe_float_epochs))]
    elif what == "checkpoint":
        argv = ["validate", str(unreadable(files.state_dict))]
    else:
        argv = _train(files, data=unreadable(files.junk_dir))
    assert main(argv) == 2
    assert "permission denied; check the permissions" in _one_line(capsys)


def test_no_traceback_from_a_real_process(files):
    """The same guarantees hold for the installed command, not only for main() in this process."""
    proc = subprocess.run([sys.executable, "-m", "visionmlp.cli", "validate", str(files.evil)], capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "refused to load" in proc.stderr, proc.stderr

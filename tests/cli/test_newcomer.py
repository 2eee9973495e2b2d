"""A newcomer's afternoon, on a tiny budget: the README's Python example runs as printed, and the command-line
path from a folder of one's own images to an ONNX file keeps the trained head at every step."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import visionmlp
from visionmlp.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = "{embed_dim: 16, num_blocks: 1, tokens_mlp_dim: 8, channels_mlp_dim: 16}"


def test_the_readme_python_example_runs_as_printed():
    text = (REPO / "README.md").read_text()
    section = text.split("## Using the models", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md (Using the models)", "exec"), namespace)  # noqa: S102 (the README's own code)
    assert namespace["logits"].shape == (2, 10)
    assert namespace["pooled"].shape == (2, namespace["model"].num_features)


def test_own_images_to_onnx_keep_the_trained_head(tmp_path, capsys):
    pytest.importorskip("onnxruntime", reason="the onnx extra (make setup installs it)")
    data, run, folder, onnx = tmp_path / "shoes", tmp_path / "run", tmp_path / "folder", tmp_path / "m.onnx"
    for c, name in enumerate(("boot", "sandal")):
        (data / name).mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (32, 32), (120 * c, 12 * i, 60)).save(data / name / f"{i}.png")
    train = ["train", "--model", "mixer_s4_32", "--data", str(data), "--epochs", "1", "--batch-size", "6",
             "--workers", "0", "--no-progress", "--output", str(run), "--model-kwargs", TINY]  # fmt: skip
    assert main(train) == 0
    out = capsys.readouterr().out
    assert out.startswith("precision: ") and "held out for validation" in out
    assert main(["validate", str(run)]) == 0
    assert main(["convert", "--from", "auto", "--model", "mixer_s4_32", str(run / "best.pth"), str(folder)]) == 0
    assert main(["export", "onnx", "--model", "mixer_s4_32", "--checkpoint", str(folder), "--out", str(onnx)]) == 0
    capsys.readouterr()

    import onnxruntime

    model = visionmlp.create_model("mixer_s4_32", pretrained=run / "best.pth").eval()
    x = torch.randn(1, 3, 32, 32)
    session = onnxruntime.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert got.shape == (1, 2)  # the 2-class head the run trained, not a fresh 10-class one
    np.testing.assert_allclose(got, model(x).detach().numpy(), atol=1e-4)

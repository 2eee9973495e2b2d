"""ONNX export with a dynamic batch axis, and a parity check against onnxruntime.

Uses torch's dynamo-based exporter (``torch.onnx.export(dynamo=True)``, which needs ``onnxscript``);
the graph is written atomically, weights embedded. Install the extra: ``pip install visionmlp[onnx]``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from ..utils import atomic_path

INPUT_NAME = "images"
OUTPUT_NAME = "logits"


def export_onnx(model: nn.Module, path: str | Path, opset: int | None = None) -> Path:
    """Write ``model`` (eval mode) to ``path`` with input ``images`` (batch, C, H, W), batch dynamic.

    H and W are the model's ``pretrained_cfg.input_size``: the token-mixing weights of most families
    are tied to that grid, so only the batch axis is left free.
    """
    model = model.eval()
    c, h, w = model.pretrained_cfg.input_size
    example = torch.randn(2, c, h, w)  # batch 2: a batch of 1 would let the exporter specialise on it
    batch = torch.export.Dim("batch", min=1)
    # The exporter logs a warning per torchvision op it cannot register; visionmlp uses none of them.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with atomic_path(path) as tmp, torch.no_grad():
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: batch},),
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return Path(path)


def onnx_parity(model: nn.Module, path: str | Path, batch_sizes=(1, 3), seed: int = 0) -> float:
    """Max abs difference between ``model`` and onnxruntime running ``path``, over random batches."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    c, h, w = model.pretrained_cfg.input_size
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for batch in batch_sizes:
        x = torch.randn(batch, c, h, w, generator=generator)
        with torch.no_grad():
            expected = model.eval()(x)
        (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
        if got.shape != tuple(expected.shape):
            raise ValueError(f"onnxruntime gave shape {got.shape} for batch {batch}, torch {tuple(expected.shape)}")
        worst = max(worst, (torch.from_numpy(got) - expected).abs().max().item())
    return worst

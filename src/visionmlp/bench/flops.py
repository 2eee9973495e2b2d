"""Parameters, FLOPs and MACs of a model at a batch and image size, counted on the ``meta`` device.

``torch.utils.flop_counter.FlopCounterMode`` counts matmuls, einsums and convolutions by their shapes.
Counting on ``meta`` allocates nothing (Mixer-H/14 is 1.7 GB of weights) and, on torch 2.13, is also
the only place where it counts scaled-dot-product attention: on real CPU tensors SDPA dispatches to a
kernel the counter does not see and counts as 0. MACs = FLOPs / 2 are what the papers call "FLOPs".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..models import build_model, get_entry


@dataclass(frozen=True)
class Cost:
    """One forward pass of ``batch_size`` images."""

    params: int
    flops: int
    batch_size: int

    @property
    def macs(self) -> int:
        return self.flops // 2

    @property
    def macs_per_image(self) -> float:
        return self.macs / self.batch_size

    @property
    def train_flops(self) -> int:
        """A training step's FLOPs by the usual convention: forward + backward = 3x forward (optimizer
        elementwise work is not counted)."""
        return 3 * self.flops


def input_shape(name: str, batch_size: int, img_size: int | None) -> tuple[int, int, int, int]:
    """The NCHW input of variant ``name``: its configured channels and size unless ``img_size`` is given."""
    c, h, w = get_entry(name).pretrained_cfg.input_size
    if img_size is not None:
        h = w = img_size
    return (batch_size, c, h, w)


def model_cost(model: nn.Module, shape: tuple[int, ...]) -> Cost:
    """Count a model's forward FLOPs for inputs of ``shape`` on a ``meta`` copy (the model is untouched)."""
    if not any(p.is_meta for p in model.parameters()):
        model = copy.deepcopy(model).to("meta")
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(shape, device="meta"))
    params = sum(p.numel() for p in model.parameters())
    return Cost(params=params, flops=int(counter.get_total_flops()), batch_size=shape[0])


def count(name: str, batch_size: int = 1, img_size: int | None = None, **kwargs) -> Cost:
    """The cost of registered variant ``name``, built on ``meta`` (nothing allocated)."""
    shape = input_shape(name, batch_size, img_size)
    if img_size is not None:
        kwargs["img_size"] = img_size
    return model_cost(build_model(name, device="meta", **kwargs), shape)

"""Evaluation: loss, top-1, top-5, per-class accuracy and the confusion matrix, summed over ranks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from .distributed import DistContext


@dataclass
class EvalResult:
    loss: float
    top1: float
    top5: float
    count: int
    confusion: torch.Tensor  # (true class, predicted class) counts

    @property
    def per_class(self) -> list[float]:
        """Accuracy of each true class (nan for a class with no images)."""
        totals = self.confusion.sum(1).clamp_min(1)
        acc = (self.confusion.diagonal() / totals).tolist()
        return [a if n else float("nan") for a, n in zip(acc, self.confusion.sum(1).tolist(), strict=True)]


def autocast(device: torch.device, enabled: bool):
    """bfloat16 autocast on CPU or GPU when ``enabled``."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    ctx: DistContext | None = None,
    *,
    amp: bool = False,
    channels_last: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> EvalResult | None:
    """Loss, top-1/5 and the confusion matrix of ``model`` over ``loader`` (summed over ranks); None when
    ``should_stop`` turns true before the last batch (a stop request: the caller saves and exits)."""
    ctx = ctx or DistContext()
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64)  # loss sum, top-5 hits, images
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    k = min(5, num_classes)
    for x, y in loader:
        if should_stop is not None and should_stop():
            model.train(was_training)
            return None
        x = x.to(ctx.device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
        y = y.to(ctx.device)
        with autocast(ctx.device, amp):
            logits = model(x)
        logits = logits.float()
        sums[0] += F.cross_entropy(logits, y, reduction="sum").item()
        top = logits.topk(k, dim=1).indices
        sums[1] += (top == y[:, None]).any(1).sum().item()
        sums[2] += len(y)
        confusion += torch.bincount(y.cpu() * num_classes + top[:, 0].cpu(), minlength=num_classes**2).view_as(
            confusion
        )
    ctx.all_reduce_sum(sums)
    ctx.all_reduce_sum(confusion)
    model.train(was_training)
    count = int(sums[2])
    if count == 0:
        raise ValueError("the evaluation set is empty")
    top1 = confusion.diagonal().sum().item() / count
    return EvalResult(float(sums[0]) / count, top1, float(sums[1]) / count, count, confusion)

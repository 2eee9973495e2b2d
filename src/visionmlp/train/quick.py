"""A small in-memory training loop for a time budget: what ``visionmlp demo`` runs.

The data set is a pair of tensors held in memory (Fashion-MNIST is 47 MB), so a batch is an index
into them and augmentation is a couple of batched tensor ops; on a 2-core CPU nearly all the time goes
to the model. The learning rate follows warm-up then cosine over the fraction of the budget spent,
whichever of the step and time budgets runs out first.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn


@dataclass
class QuickResult:
    steps: int
    images_seen: int
    seconds: float
    final_loss: float
    test_top1: float


def normalise(images: torch.Tensor, mean, std) -> torch.Tensor:
    """uint8 (N, H, W) or (N, C, H, W) -> float NCHW normalised with the model's mean/std."""
    x = images.float().div_(255)
    if x.ndim == 3:
        x = x.unsqueeze(1)
    mean = torch.tensor(mean).view(1, -1, 1, 1)
    std = torch.tensor(std).view(1, -1, 1, 1)
    return (x - mean) / std


def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random horizontal flip and random translation by up to ``pad`` pixels (zero fill), per image."""
    b, _, h, w = x.shape
    flip = torch.rand(b, generator=generator) < 0.5
    x = torch.where(flip.view(b, 1, 1, 1), x.flip(-1), x)
    padded = F.pad(x, (pad, pad, pad, pad))
    dy, dx = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=generator))
    return padded[:, :, dy : dy + h, dx : dx + w]


@torch.no_grad()
def evaluate_top1(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean, std, batch_size=500) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(images), batch_size):
        logits = model(normalise(images[i : i + batch_size], mean, std))
        correct += (logits.argmax(1) == labels[i : i + batch_size]).sum().item()
    return correct / len(images)


def train_quick(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    time_budget: float = 180.0,
    max_epochs: float = 10.0,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.05,
    warmup_fraction: float = 0.05,
    label_smoothing: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> QuickResult:
    """Train ``model`` on in-memory uint8 images for ``time_budget`` seconds (or ``max_epochs``), then test it."""
    if time_budget <= 0 or max_epochs <= 0 or batch_size <= 0 or lr <= 0:
        raise ValueError("time_budget, max_epochs, batch_size and lr must all be positive")
    mean, std = model.pretrained_cfg.mean, model.pretrained_cfg.std
    generator = torch.Generator().manual_seed(seed)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and n not in model.no_weight_decay()]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1 or n in model.no_weight_decay()]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )
    steps_per_epoch = len(images) // batch_size
    max_steps = max(1, int(max_epochs * steps_per_epoch))
    start, step, loss_value = time.perf_counter(), 0, float("nan")
    order = torch.randperm(len(images), generator=generator)

    columns = (
        TextColumn("[bold]train"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("loss {task.fields[loss]:.3f}  {task.fields[rate]:.0f} img/s"), TimeElapsedColumn(),
        TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=1.0, loss=float("nan"), rate=0.0)
        model.train()
        while True:
            elapsed = time.perf_counter() - start
            done = max(step / max_steps, elapsed / time_budget)
            if done >= 1.0:
                break
            for group in optimizer.param_groups:
                group["lr"] = lr * _warmup_cosine(done, warmup_fraction)
            pos = (step % steps_per_epoch) * batch_size
            if pos == 0 and step:
                order = torch.randperm(len(images), generator=generator)
            idx = order[pos : pos + batch_size]
            x = augment(normalise(images[idx], mean, std), generator)
            loss = F.cross_entropy(model(x), labels[idx], label_smoothing=label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            loss_value = loss.item()
            bar.update(task, completed=done, loss=loss_value, rate=step * batch_size / max(elapsed, 1e-9))
        seconds = time.perf_counter() - start
        bar.update(task, completed=1.0)
    top1 = evaluate_top1(model, test_images, test_labels, mean, std)
    return QuickResult(step, step * batch_size, seconds, loss_value, top1)


def _warmup_cosine(done: float, warmup: float) -> float:
    if done < warmup:
        return done / warmup
    return 0.5 * (1 + math.cos(math.pi * (done - warmup) / (1 - warmup)))

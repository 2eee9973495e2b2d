"""Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) on a batch, with label-smoothed soft targets.

Each image is mixed with its mirror in the batch (``x.flip(0)``), one ``lam`` per batch. CutMix pastes
a box whose area is ``1 - lam`` of the image, clipped at the border; ``lam`` is then recomputed from the
clipped box so the target weights always equal the pixel areas. Randomness comes from the ``rng`` the
caller passes (the trainer derives it from the seed and step, which keeps resumed runs exact).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def smooth_one_hot(labels: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    off = smoothing / num_classes
    targets = torch.full((len(labels), num_classes), off, device=labels.device)
    return targets.scatter_(1, labels.view(-1, 1), 1.0 - smoothing + off)


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return torch.sum(-targets * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


def cutmix_box(height: int, width: int, lam: float, rng: random.Random) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of a box of about ``(1 - lam)`` of the area, centred at random, clipped."""
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = rng.randrange(height), rng.randrange(width)
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
    return top, bottom, left, right


@dataclass
class Mixup:
    """``mixup_alpha`` / ``cutmix_alpha``: Beta parameters (0 disables that one); with both, CutMix is
    picked with ``switch_prob``. A batch is mixed with probability ``prob``; targets always get
    ``label_smoothing``."""

    num_classes: int
    mixup_alpha: float = 0.8
    cutmix_alpha: float = 1.0
    prob: float = 1.0
    switch_prob: float = 0.5
    label_smoothing: float = 0.1

    def __post_init__(self):
        if self.mixup_alpha < 0 or self.cutmix_alpha < 0 or not 0 <= self.prob <= 1:
            raise ValueError("mixup/cutmix alphas must be >= 0 and the mixing probability in [0, 1]")

    def sample(self, rng: random.Random) -> tuple[float, bool]:
        """``(lam, use_cutmix)`` for one batch; ``lam == 1`` means no mixing."""
        if rng.random() >= self.prob or (self.mixup_alpha == 0 and self.cutmix_alpha == 0):
            return 1.0, False
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or rng.random() < self.switch_prob)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        return rng.betavariate(alpha, alpha), use_cutmix

    def __call__(self, x: torch.Tensor, labels: torch.Tensor, rng: random.Random):
        """Mixed images (a new tensor) and soft targets ``(B, num_classes)`` whose rows sum to 1."""
        lam, use_cutmix = self.sample(rng)
        if lam < 1.0:
            if use_cutmix:
                top, bottom, left, right = cutmix_box(x.shape[-2], x.shape[-1], lam, rng)
                x = x.clone()
                x[..., top:bottom, left:right] = x.flip(0)[..., top:bottom, left:right]
                lam = 1.0 - (bottom - top) * (right - left) / (x.shape[-2] * x.shape[-1])
            else:
                x = x * lam + x.flip(0) * (1.0 - lam)
        targets = smooth_one_hot(labels, self.num_classes, self.label_smoothing)
        return x, lam * targets + (1.0 - lam) * targets.flip(0)

"""Normalisation layers the families need beyond torch.nn."""

import torch
import torch.nn.functional as F
from torch import nn


class Affine(nn.Module):
    """ResMLP's replacement for LayerNorm: ``alpha * x + beta`` per channel, no statistics.

    Parameters are shaped ``(dim,)`` as in the official deit code; they broadcast over the last axis.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.beta, self.alpha, x)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel axis of an NCHW map (the per-pixel LayerNorm of conv-MLP hybrids)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)

"""Stochastic depth: drop a residual branch per sample during training."""

import torch
from torch import nn


class DropPath(nn.Module):
    """Zero a residual branch for a random subset of the batch and rescale the rest by 1/keep.

    Identity at ``drop_prob == 0`` and in eval mode, so it costs nothing at inference.
    """

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_path rate must be in [0, 1), got {drop_prob}")
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


def drop_path_rates(drop_path_rate: float, depth: int) -> list[float]:
    """The linear 0 -> ``drop_path_rate`` ramp over ``depth`` blocks (``torch.linspace`` semantics, as the
    official code bases use: a single block gets 0)."""
    if depth == 1:
        return [0.0]
    return [drop_path_rate * i / (depth - 1) for i in range(depth)]

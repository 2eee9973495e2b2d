"""Regularisers that drop things during training: elements (dropout) and residual branches (stochastic depth).

PyTorch's CPU dropout draws one float from the generator per element through ``bernoulli_``, about 6 ns each on
the 2-core machine: on EAMLP's largest dropout (its tokens-to-token attention map, 3.2 M elements a batch) that is
thirty times a GEMM over the same tensor. ``dropout`` here draws the same Bernoulli mask from 32-bit lanes of
64-bit random words, the cheapest draw the generator has (the mask 2.7x faster; forward and backward 1.7-1.8x,
``benchmarks/bench_dropout.py``), from the same default generator, so ``torch.manual_seed`` and an exact resume
reproduce it as before.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

_LANE_SPAN = 2**32


def keep_mask(shape: torch.Size | tuple[int, ...], keep: float, device: torch.device | None = None) -> torch.Tensor:
    """A boolean mask of ``shape``, each element True with probability ``keep`` (to within 2**-32, finer than
    the 2**-24 of a float draw), independently, from the default generator."""
    n = math.prod(shape)
    words = torch.empty((n + 1) // 2, dtype=torch.int64, device=device).random_(-(2**63), None)  # full 64 bits
    lanes = words.view(torch.int32)[:n].view(shape)  # uniform over [-2**31, 2**31)
    threshold = min(round(keep * _LANE_SPAN), _LANE_SPAN - 1) - _LANE_SPAN // 2
    return lanes < threshold


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout`` with the mask drawn by ``keep_mask`` on CPU; elsewhere, and inside ``torch.compile`` (whose
    fused random numbers are faster still), ``F.dropout`` itself."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or torch.compiler.is_compiling() or p == 1.0:
        return F.dropout(x, p, training=True)
    keep = 1.0 - p
    return x.mul(keep_mask(x.shape, keep, x.device)).mul_(1.0 / keep)


class Dropout(nn.Dropout):
    """``nn.Dropout`` (same state dict and repr; out of place only) computed by ``dropout``."""

    def __init__(self, p: float = 0.5):
        super().__init__(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


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

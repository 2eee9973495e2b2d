"""Linear maps over the token axis of a fixed grid (ResMLP's cross-patch layer, gMLP's gate, Mixer's
token MLP), applied where the tokens are: on ``(B, N, C)`` without transposing them.

The papers write token mixing as ``(W X^T)^T``, a Linear over a transposed token matrix. The same
product is ``W @ X`` with ``X`` of shape ``(N, C)`` per image, so :func:`mix_tokens` computes it as one
batched matmul with the bias added per token (``baddbmm``), taking and returning the ``(B, N, C)``
layout every other layer uses: no transposed view travels on into the residual sums and LayerNorms,
and bfloat16 avoids the output clone the transposed Linear makes. Measured side by side on Mixer-S/16
(docs/results/performance.md): equal in float32, about 4% faster in bfloat16; same numbers to rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from .resample import resample_grid_axis


def mix_tokens(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``weight @ x + bias[:, None]`` for ``x`` (B, N_in, C), ``weight`` (N_out, N_in): (B, N_out, C)."""
    w = weight.expand(x.shape[0], -1, -1)
    if bias is None:
        return torch.bmm(w, x)
    return torch.baddbmm(bias.unsqueeze(-1), w, x)


class TokenMixingLinear(nn.Linear):
    """An ``nn.Linear`` whose weight mixes the tokens of ``(B, N, C)`` inputs (applied by :func:`mix_tokens`, never as
    a Linear over the features). A subclass, so that the fast-Linear swap and ``pack()`` leave it alone (they would
    pack a weight no GEMM over the features uses); checkpoints address it as ``weight``/``bias``."""


class TokenLinear(TokenMixingLinear):
    """``Linear(N, N)`` over the ``grid[0] * grid[1]`` tokens of ``(B, N, C)`` inputs, shared across channels.

    A plain ``nn.Linear`` underneath, so checkpoints address it as ``weight``/``bias``. Given another
    token ``grid`` than the one it was built for, it resamples the weight on both axes (the input axis is
    summed over) and the bias to that grid; see ``layers.resample``.
    """

    def __init__(self, grid: tuple[int, int]):
        super().__init__(grid[0] * grid[1], grid[0] * grid[1])
        self.grid = tuple(grid)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:  # x: (B, N, C)
        if grid is None or tuple(grid) == self.grid:
            return mix_tokens(x, self.weight, self.bias)
        weight = resample_grid_axis(self.weight, 1, self.grid, grid, summed=True)
        weight = resample_grid_axis(weight, 0, self.grid, grid)
        return mix_tokens(x, weight, resample_grid_axis(self.bias, 0, self.grid, grid))

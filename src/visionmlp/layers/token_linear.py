"""A square ``Linear(N, N)`` over the tokens of a fixed grid (ResMLP's cross-patch layer, gMLP's gate)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .resample import resample_grid_axis


class TokenLinear(nn.Linear):
    """``Linear(N, N)`` applied along the last axis, which indexes the ``grid[0] * grid[1]`` tokens.

    A plain ``nn.Linear`` underneath, so checkpoints address it as ``weight``/``bias``. Given another
    token ``grid`` than the one it was built for, it resamples the weight on both axes (the input axis is
    summed over) and the bias to that grid; see ``layers.resample``.
    """

    def __init__(self, grid: tuple[int, int]):
        super().__init__(grid[0] * grid[1], grid[0] * grid[1])
        self.grid = tuple(grid)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        if grid is None or tuple(grid) == self.grid:
            return super().forward(x)
        weight = resample_grid_axis(self.weight, 1, self.grid, grid, summed=True)
        weight = resample_grid_axis(weight, 0, self.grid, grid)
        return F.linear(x, weight, resample_grid_axis(self.bias, 0, self.grid, grid))

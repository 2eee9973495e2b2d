"""Resampling of grid-tied weights, for ``dynamic_img_size=True``.

Token-mixing weights of the fixed-grid families index a flattened ``H x W`` token grid on one or both
axes. To run at another input size, each such axis is treated as an image over the grid and
interpolated to the new grid. An axis that is *summed over* (the input side of a token mixer) is also
scaled by ``old_tokens / new_tokens``, so a constant input still gives the same response.
At the native grid every function here returns its input unchanged, so the model stays exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resample_grid_axis(
    t: torch.Tensor,
    dim: int,
    src_grid: tuple[int, int],
    dst_grid: tuple[int, int],
    summed: bool = False,
    mode: str = "bilinear",
) -> torch.Tensor:
    """Resample axis ``dim`` of ``t`` (length ``src_grid[0] * src_grid[1]``) to ``dst_grid``."""
    src_grid, dst_grid = tuple(src_grid), tuple(dst_grid)
    if src_grid == dst_grid:
        return t
    if t.shape[dim] != src_grid[0] * src_grid[1]:
        raise ValueError(f"axis {dim} has length {t.shape[dim]}, not the {src_grid} grid's {src_grid[0] * src_grid[1]}")
    moved = t.movedim(dim, -1)
    lead = moved.shape[:-1]
    grid = moved.reshape(-1, 1, *src_grid)
    dtype = grid.dtype
    out = F.interpolate(grid.float(), size=dst_grid, mode=mode, align_corners=False, antialias=mode != "nearest")
    out = out.to(dtype).reshape(*lead, dst_grid[0] * dst_grid[1])
    if summed:
        out = out * (src_grid[0] * src_grid[1] / (dst_grid[0] * dst_grid[1]))
    return out.movedim(-1, dim)


def resample_1d_axis(t: torch.Tensor, dim: int, src_len: int, dst_len: int, summed: bool = False) -> torch.Tensor:
    """Resample axis ``dim`` of length ``src_len`` (a row or column of tokens) to ``dst_len``."""
    if src_len == dst_len:
        return t
    moved = t.movedim(dim, -1)
    lead = moved.shape[:-1]
    dtype = moved.dtype
    out = F.interpolate(moved.reshape(-1, 1, src_len).float(), size=dst_len, mode="linear", align_corners=False)
    out = out.to(dtype).reshape(*lead, dst_len)
    if summed:
        out = out * (src_len / dst_len)
    return out.movedim(-1, dim)

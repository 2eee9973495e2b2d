"""Fixed spatial shifts of channels: the parameter-free token mixing of CycleMLP, AS-MLP and S2-MLP.

Each family moves every channel by a fixed integer offset and lets a per-position Linear mix the
result. :func:`shift_channels` does that for any table of per-channel offsets with one ``gather``; the
``*_offsets`` helpers build the tables the papers (and official codes) define.
"""

from __future__ import annotations

import torch


def shift_channels(x: torch.Tensor, offsets: torch.Tensor, padding: str = "zeros") -> torch.Tensor:
    """``out[b, i, j, c] = x[b, i + dy_c, j + dx_c, c]`` on a channels-last map ``x`` of shape (B, H, W, C).

    ``offsets`` is an integer (C, 2) table of ``(dy_c, dx_c)``. A read outside the map gives 0 with
    ``padding="zeros"`` (deform_conv's bilinear sampling at integer offsets, AS-MLP's padded shift) and
    the nearest border pixel with ``padding="border"`` (S2-MLP's in-place slice copy, which leaves the
    first row or column where it was).
    """
    if padding not in ("zeros", "border"):
        raise ValueError(f"padding must be 'zeros' or 'border', got {padding!r}")
    b, h, w, c = x.shape
    rows = torch.arange(h, device=x.device)[:, None] + offsets[:, 0].to(x.device)  # (H, C)
    cols = torch.arange(w, device=x.device)[:, None] + offsets[:, 1].to(x.device)  # (W, C)
    index = rows.clamp(0, h - 1)[:, None, :] * w + cols.clamp(0, w - 1)[None, :, :]  # (H, W, C)
    out = x.reshape(b, h * w, c).gather(1, index.reshape(1, h * w, c).expand(b, -1, -1)).view(b, h, w, c)
    if padding == "zeros":
        inside = ((rows >= 0) & (rows < h))[:, None, :] & ((cols >= 0) & (cols < w))[None, :, :]
        out = out * inside.to(out.dtype)
    return out


def cycle_offsets(channels: int, kernel_size: tuple[int, int]) -> torch.Tensor:
    """CycleFC's offsets: channel c reads ``(c + k // 2) % k - k // 2`` pixels along the kernel's long
    axis (k = 3: 0, +1, -1, 0, +1, ...), the fixed deform_conv offsets of ``CycleFC.gen_offset``."""
    kh, kw = kernel_size
    if kh != 1 and kw != 1:
        raise ValueError(f"a CycleFC kernel is 1 x k or k x 1, got {kernel_size}")
    k = kh * kw
    step = (torch.arange(channels) + k // 2) % k - k // 2
    zero = torch.zeros_like(step)
    return torch.stack([zero, step] if kh == 1 else [step, zero], dim=1)


def axial_offsets(channels: int, shift_size: int, axis: int) -> torch.Tensor:
    """AS-MLP's offsets along ``axis`` (0: rows, 1: columns): the channels split into ``shift_size``
    groups of ``ceil(C / shift_size)`` (``torch.chunk``), group g reads ``shift_size // 2 - g`` away."""
    group = -(-channels // shift_size)
    step = shift_size // 2 - torch.arange(channels) // group
    zero = torch.zeros_like(step)
    return torch.stack([step, zero] if axis == 0 else [zero, step], dim=1)


def quad_offsets(channels: int, first_axis: int = 0) -> torch.Tensor:
    """S2-MLP's four-direction shift: channel quarters read from -1 and +1 along ``first_axis``, then -1
    and +1 along the other axis (quarter bounds C//4, C//2, 3C//4 as in the papers' pseudo-code).
    ``first_axis=0`` is ``spatial_shift1``; ``first_axis=1`` is S2-MLPv2's ``spatial_shift2``."""
    bounds = torch.tensor([channels // 4, channels // 2, 3 * channels // 4])
    quarter = torch.bucketize(torch.arange(channels), bounds, right=True)
    step = torch.where(quarter % 2 == 0, -1, 1)
    on_first = quarter < 2
    zero = torch.zeros_like(step)
    along_rows = on_first if first_axis == 0 else ~on_first
    return torch.stack([torch.where(along_rows, step, zero), torch.where(along_rows, zero, step)], dim=1)

"""Fixed spatial shifts of channels: the parameter-free token mixing of CycleMLP, AS-MLP and S2-MLP.

Each family moves every channel by a fixed integer offset along one axis and lets a per-position Linear
mix the result. :class:`ChannelShift` does that for any table of per-channel offsets; the ``*_offsets``
helpers build the tables the papers (and official codes) define.

The shift is planned once, when the module is built: the channels are grouped by offset, each group
becomes channel slices, and the forward pass is one slice copy per group plus the strip the shift
uncovers. A ``gather`` with a per-element index did the same in one call but read an int64 index per
element (four times the data in bfloat16) and trained through a ``scatter_add``; slices read the data
once and give ``torch.compile`` a plan made of Python constants. The backward pass is the shift's adjoint
(the opposite shift with zeros, plus, with border padding, the uncovered strip's gradient summed onto the
border it copied): autograd's own backward of the slice copies cloned the whole gradient once per copy and
made a float32 training step 3-5% slower than the gather.
"""

from __future__ import annotations

import torch
from torch import nn

PADDINGS = ("zeros", "border")
# The offset tables are read once into Python (the plan), so they live on the CPU even when a model is
# built under ``torch.device("meta")`` or another default device.
CPU = torch.device("cpu")


class ChannelShift(nn.Module):
    """``out[b, i, j, c] = x[b, i + dy_c, j + dx_c, c]`` on a channels-last map ``x`` of shape (B, H, W, C).

    ``offsets`` is an integer (C, 2) table of ``(dy_c, dx_c)`` with at most one of the two non-zero per
    channel (every family shifts along one axis at a time). A read outside the map gives 0 with
    ``padding="zeros"`` (deform_conv's bilinear sampling at integer offsets, AS-MLP's padded shift) and
    the nearest border pixel with ``padding="border"`` (S2-MLP's in-place slice copy, which leaves the
    first row or column where it was).
    """

    def __init__(self, offsets: torch.Tensor, padding: str = "zeros"):
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"padding must be 'zeros' or 'border', got {padding!r}")
        if offsets.dim() != 2 or offsets.shape[1] != 2:
            raise ValueError(f"offsets must be a (channels, 2) table of (dy, dx), got shape {tuple(offsets.shape)}")
        if bool(((offsets[:, 0] != 0) & (offsets[:, 1] != 0)).any()):
            raise ValueError("a channel may shift along one axis only (dy or dx zero)")
        self.padding = padding
        self.channels = offsets.shape[0]
        self.plan = _plan(offsets.tolist())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.channels:
            raise ValueError(f"the shift was planned for {self.channels} channels, the map has {x.shape[-1]}")
        return _Shift.apply(x, self.plan, self.padding)

    def extra_repr(self) -> str:
        return f"{self.channels}, padding={self.padding!r}, groups={len(self.plan)}"


class _Shift(torch.autograd.Function):
    """The planned shift, differentiated by its adjoint (see the module docstring)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, plan: tuple, padding: str) -> torch.Tensor:
        ctx.plan, ctx.padding = plan, padding
        return _shift(x, plan, padding)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        back = tuple((dim, -step, channels) for dim, step, channels in ctx.plan)
        grad_x = _shift(grad, back, "zeros")
        if ctx.padding == "border":  # every position of the uncovered strip read the border: its gradient adds up there
            for dim, step, channels in ctx.plan:
                if step:
                    n = grad.shape[dim]
                    k = min(abs(step), n)
                    edge, strip = (n - 1, n - k) if step > 0 else (0, 0)
                    grad_x[..., channels].narrow(dim, edge, 1).add_(
                        grad[..., channels].narrow(dim, strip, k).sum(dim, keepdim=True)
                    )
        return grad_x, None, None


def _shift(x: torch.Tensor, plan: tuple, padding: str) -> torch.Tensor:
    out = torch.empty_like(x)
    for dim, step, channels in plan:
        _shift_into(out[..., channels], x[..., channels], dim, step, padding)
    return out


def _plan(offsets: list[list[int]]) -> tuple[tuple[int, int, slice], ...]:
    """(map dim, step, channel slice) per group of channels sharing an offset: one slice where the group is an
    arithmetic progression (CycleMLP's every k-th channel, AS-MLP's and S2-MLP's contiguous groups), else
    one slice per run of consecutive channels."""
    groups: dict[tuple[int, int], list[int]] = {}
    for channel, (dy, dx) in enumerate(offsets):
        groups.setdefault((dy, dx), []).append(channel)
    plan = []
    for (dy, dx), members in groups.items():
        dim, step = (1, dy) if dy else (2, dx)
        plan.extend((dim, step, channels) for channels in _slices(members))
    return tuple(plan)


def _slices(members: list[int]) -> list[slice]:
    gaps = {b - a for a, b in zip(members, members[1:], strict=False)}
    if len(gaps) <= 1:
        return [slice(members[0], members[-1] + 1, gaps.pop() if gaps else 1)]
    runs, start = [], 0
    for i in range(1, len(members) + 1):
        if i == len(members) or members[i] != members[i - 1] + 1:
            runs.append(slice(members[start], members[i - 1] + 1))
            start = i
    return runs


def _shift_into(out: torch.Tensor, x: torch.Tensor, dim: int, step: int, padding: str) -> None:
    """``out`` = ``x`` read ``step`` positions further along ``dim``; the uncovered strip per ``padding``."""
    if step == 0:
        out.copy_(x)
        return
    n = x.shape[dim]
    k = min(abs(step), n)
    if step > 0:  # out[i] = x[i + k]: the last k positions read past the end
        out.narrow(dim, 0, n - k).copy_(x.narrow(dim, k, n - k))
        strip, edge = out.narrow(dim, n - k, k), x.narrow(dim, n - 1, 1)
    else:
        out.narrow(dim, k, n - k).copy_(x.narrow(dim, 0, n - k))
        strip, edge = out.narrow(dim, 0, k), x.narrow(dim, 0, 1)
    if padding == "zeros":
        strip.zero_()
    else:
        strip.copy_(edge.expand_as(strip))


def cycle_offsets(channels: int, kernel_size: tuple[int, int]) -> torch.Tensor:
    """CycleFC's offsets: channel c reads ``(c + k // 2) % k - k // 2`` pixels along the kernel's long
    axis (k = 3: 0, +1, -1, 0, +1, ...), the fixed deform_conv offsets of ``CycleFC.gen_offset``."""
    kh, kw = kernel_size
    if kh != 1 and kw != 1:
        raise ValueError(f"a CycleFC kernel is 1 x k or k x 1, got {kernel_size}")
    k = kh * kw
    step = (torch.arange(channels, device=CPU) + k // 2) % k - k // 2
    zero = torch.zeros_like(step)
    return torch.stack([zero, step] if kh == 1 else [step, zero], dim=1)


def axial_offsets(channels: int, shift_size: int, axis: int) -> torch.Tensor:
    """AS-MLP's offsets along ``axis`` (0: rows, 1: columns): the channels split into ``shift_size``
    groups of ``ceil(C / shift_size)`` (``torch.chunk``), group g reads ``shift_size // 2 - g`` away."""
    group = -(-channels // shift_size)
    step = shift_size // 2 - torch.arange(channels, device=CPU) // group
    zero = torch.zeros_like(step)
    return torch.stack([step, zero] if axis == 0 else [zero, step], dim=1)


def quad_offsets(channels: int, first_axis: int = 0) -> torch.Tensor:
    """S2-MLP's four-direction shift: channel quarters read from -1 and +1 along ``first_axis``, then -1
    and +1 along the other axis (quarter bounds C//4, C//2, 3C//4 as in the papers' pseudo-code).
    ``first_axis=0`` is ``spatial_shift1``; ``first_axis=1`` is S2-MLPv2's ``spatial_shift2``."""
    bounds = torch.tensor([channels // 4, channels // 2, 3 * channels // 4], device=CPU)
    quarter = torch.bucketize(torch.arange(channels, device=CPU), bounds, right=True)
    step = torch.where(quarter % 2 == 0, -1, 1)
    on_first = quarter < 2
    zero = torch.zeros_like(step)
    along_rows = on_first if first_axis == 0 else ~on_first
    return torch.stack([torch.where(along_rows, step, zero), torch.where(along_rows, zero, step)], dim=1)

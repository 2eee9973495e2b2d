"""The machine's dense matmul rate, the bound a model's achieved FLOP rate is quoted against.

A square matmul of side 2048 is large enough to run the BLAS at its best on a CPU or a small GPU and
small enough to time in well under a second. It is timed in the same dtype as the model, alternating
with the model's own steps (``throughput.alternate``), so each round's fraction compares two numbers
taken under the same load.
"""

from __future__ import annotations

import torch

from .throughput import Stats, Step

MATMUL_SIDE = 2048


def matmul_step(dtype: torch.dtype, device: torch.device, side: int = MATMUL_SIDE) -> tuple[Step, int]:
    """A ``side x side`` matmul in ``dtype`` and its FLOPs (2 side^3)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(side, side, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(side, side, generator=gen).to(device=device, dtype=dtype)
    out = torch.empty(side, side, device=device, dtype=dtype)
    return (lambda: torch.mm(a, b, out=out)), 2 * side**3


def gflops(seconds: Stats, flops: int) -> Stats:
    """Per-round GFLOP/s of a step of ``flops`` FLOPs (fastest round = max)."""
    return seconds.map(lambda s: flops / s / 1e9)


def fraction(step_seconds: Stats, step_flops: int, matmul_seconds: Stats, matmul_flops: int) -> Stats:
    """Per-round achieved rate / matmul rate, pairing round ``i`` of the step with round ``i`` of the matmul."""
    pairs = zip(step_seconds.samples, matmul_seconds.samples, strict=True)
    return Stats.of((step_flops / s) / (matmul_flops / m) for s, m in pairs)

"""dynamixer-ablation (DynaMixer paper, Sec. 5.3 / Tables 6-9): the number of segments, the reduced dimension
d, dynamic against static (learned but input-independent) mixing matrices, and separate against shared
row/column parameters.

Setup: one stage of 4 DynaMixer blocks (width 64, patch 4: a 7x7 grid) built from the library's
``PermutatorNet`` with :class:`AblationMixer`, a DynaMixer token mixer whose variations are arguments. The
reference is 8 segments, d=2, dynamic, separate; each arm changes one factor: segments in {1, 2, 4, 8},
d in {1, 2, 4, 8}, ``static`` (one learned softmax-normalised L x L matrix per segment, the same for every
input) and ``shared`` (one operation for rows and columns). The channel-MLP ratio of each arm is re-fitted so
all arms match the reference's parameters within 10%.

Verdict rule: (the paper's headline ablation claims) **holds** if the reference (dynamic, separate) is
clearly above both ``static`` and ``shared`` (non-overlapping mean ± spread); **does not hold** if either
is clearly above the reference; **inconclusive** otherwise. The segment and d sweeps are reported, not
judged (the paper picks values, it does not claim a monotone trend).

Small budget estimate (2 CPU threads): 9 arms x 2 seeds x 150 steps of 64 images at ~60 img/s measured under
a load of ~6 (~150 img/s idle): about 20 min on an idle machine with evaluation.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..models._permutator import BranchReweightMixer, PermutatorNet
from ..models.dynamixer import DynaMixerOp
from . import _plot
from ._runner import Arm, lookup, ratio_matched_arms
from ._study import FAILS, HOLDS, INCONCLUSIVE, Study, Verdict, rule_of

GRID, WIDTH, DEPTH = 7, 64, 4
REFERENCE = dict(segments=8, reduced_dim=2, dynamic=True, shared=False)
RATIOS = tuple(2 + 0.125 * i for i in range(17))  # 2 .. 4
REF_RATIO = 3.0


class StaticMixOp(nn.Module):
    """DynaMixer's operation with the mixing matrices learned as parameters instead of generated from the
    input: ``y = out(x_seg @ softmax_in(P_seg))``."""

    def __init__(self, dim: int, seq_len: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.logits = nn.Parameter(torch.zeros(num_heads, seq_len, seq_len))  # uniform mixing at init
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (..., L, C), mixing along L
        c, g = x.shape[-1], self.num_heads
        x = x.unflatten(-1, (g, c // g)).movedim(-3, -1) @ self.logits.softmax(dim=-2)  # (..., G, C/G, L)
        return self.out(x.movedim(-1, -3).flatten(-2))


class AblationMixer(BranchReweightMixer):
    """Row and column mixing (dynamic or static, separate or shared) plus ViP's channel branch."""

    def __init__(self, dim: int, segments: int, reduced_dim: int, dynamic: bool, shared: bool):
        super().__init__(dim)

        def op():
            return DynaMixerOp(dim, GRID, segments, reduced_dim) if dynamic else StaticMixOp(dim, GRID, segments)

        self.mix_h = op()
        self.mix_w = self.mix_h if shared else op()

    def mix_height(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, W, C): columns are the sequences
        return self.mix_h(x.transpose(1, 2)).transpose(1, 2)

    def mix_width(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix_w(x)


def build(mlp_ratio: float, segments: int, reduced_dim: int, dynamic: bool, shared: bool) -> PermutatorNet:
    return PermutatorNet(
        lambda _i, dim: AblationMixer(dim, segments, reduced_dim, dynamic, shared), [GRID], "resolutions",
        layers=[DEPTH], embed_dims=[WIDTH], transitions=[False], mlp_ratios=[mlp_ratio], num_classes=10, img_size=28,
        in_chans=1, patch_size=4, skip_lam=1.0, drop_path_rate=0.0, dynamic_img_size=False,
    )  # fmt: skip


def variants() -> dict[str, dict]:
    """label -> the arguments that differ from the reference (the reference first)."""
    out = {"reference": {}}
    out.update({f"segments={g}": {"segments": g} for g in (1, 2, 4)})
    out.update({f"d={d}": {"reduced_dim": d} for d in (1, 4, 8)})
    out.update({"static": {"dynamic": False}, "shared": {"shared": True}})
    return out


def arms() -> list[Arm]:
    builders = {label: partial(build, **{**REFERENCE, **change}) for label, change in variants().items()}
    return ratio_matched_arms(builders, "reference", REF_RATIO, RATIOS)


def verdict(table: list[dict]) -> Verdict:
    ref, static, shared = (lookup(table, "test_top1", arm=a) for a in ("reference", "static", "shared"))
    reason = f"dynamic+separate {ref}, static {static}, shared {shared}"
    if ref.clearly_above(static) and ref.clearly_above(shared):
        return Verdict(HOLDS, reason)
    if static.clearly_above(ref) or shared.clearly_above(ref):
        return Verdict(FAILS, reason)
    return Verdict(INCONCLUSIVE, reason)


def plot(table: list[dict], path: Path) -> None:
    _plot.top1_bars(path, table, "DynaMixer ablations (reference: 8 segments, d=2, dynamic, separate)")


STUDY = Study(
    name="dynamixer-ablation",
    claim="Dynamic (input-generated) mixing matrices beat static learned ones, and separate row/column "
    "parameters beat shared ones; segment count and reduced dimension d are tuning choices.",
    source="DynaMixer (Wang et al. 2022), Sec. 5.3",
    rule=rule_of(__doc__),
    setup="One stage of 4 DynaMixer blocks (width 64, 7x7 tokens); one factor changed per arm from the reference "
    "(8 segments, d=2, dynamic, separate), channel-MLP ratios re-fitted to match parameters.",
    arms=arms,
    verdict=verdict,
    plot=plot,
)

"""convmlp-ablation (ConvMLP paper, Sec. 4.3 / Table 4): starting from a pure channel-MLP network, each
convolutional ingredient helps: convolutional downsampling, then a depth-wise convolution inside each block,
then the convolutional tokenizer + stage.

Setup: :class:`AblatedConvMLP` is ``models.convmlp.ConvMLP`` with each ingredient switchable, four arms
adding them in the paper's order:

1. ``pure-mlp``: a non-overlapping 7x7 patch embedding (28 -> 4x4 tokens, the grid the conv path gives),
   channel-MLP blocks only, 2x2 non-overlapping (linear patch-merging) downsampling;
2. ``+conv-down``: 3x3 stride-2 convolutions between stages;
3. ``+dwconv``: the depth-wise 3x3 convolution inside every block;
4. ``+conv-stage``: the convolutional tokenizer and conv stage in place of the patch embedding (= ConvMLP).

Each arm's channel-MLP ratio is chosen so that it matches the full ConvMLP's parameters (within 10%): the
arms differ in structure, not size.

Verdict rule: **holds** if every step's mean is above the previous arm's and at least one step is clearly
above (non-overlapping mean ± spread) with none clearly below; **does not hold** if any step is clearly
below the arm before it; **inconclusive** otherwise.

Small budget estimate (2 CPU threads): 4 arms x 2 seeds x 150 steps of 64 images at ~600-900 img/s on an idle
machine: about 3 min with evaluation.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from torch import nn

from ..layers.conv_nhwc import ConvNHWC
from ..models.convmlp import ConvMLP
from . import _plot
from ._runner import Arm, ratio_matched_arms
from ._study import FAILS, HOLDS, INCONCLUSIVE, Study, Verdict, rule_of

BASE = dict(blocks=(1, 1, 1), dims=(32, 64, 128), channels=16, n_conv_blocks=1, img_size=28, in_chans=1,
            num_classes=10)  # fmt: skip
RATIOS = (1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0)
STEPS = (  # (label, conv_downsample, dwconv, conv_stage), cumulative as in the paper
    ("pure-mlp", False, False, False),
    ("+conv-down", True, False, False),
    ("+dwconv", True, True, False),
    ("+conv-stage", True, True, True),
)
PATCH = 7  # 28 / 7 = 4: the token grid the tokenizer + conv stage produce (28 -> 7 -> 4)


class AblatedConvMLP(ConvMLP):
    """ConvMLP with its convolutions switchable; with all three on it is ``ConvMLP`` itself.

    Without ``conv_stage`` the tokenizer is dropped and the conv stage holds no blocks, only a
    ``PATCH x PATCH`` stride-``PATCH`` convolution (a linear patch embedding); without
    ``conv_downsample`` the stage transitions are 2x2 stride-2 convolutions (linear patch merging); without
    ``dwconv`` the blocks keep both channel MLPs and drop the depth-wise convolution with its norm.
    """

    def __init__(self, conv_downsample: bool, dwconv: bool, conv_stage: bool, mlp_ratio: float, **kwargs):
        super().__init__(mlp_ratios=(mlp_ratio,) * len(kwargs["dims"]), **kwargs)
        dims = kwargs["dims"]
        if not conv_stage:
            self.tokenizer = nn.Identity()
            self.conv_stage.blocks = nn.Sequential()
            self.conv_stage.downsample = nn.Conv2d(self.in_chans, dims[0], PATCH, stride=PATCH)
        for i, stage in enumerate(self.stages):
            if not conv_downsample and i + 1 < len(dims):
                stage.downsample = ConvNHWC(dims[i], dims[i + 1], 2, stride=2)
            if not dwconv:
                for block in stage.blocks:
                    block.dw_norm, block.dwconv = nn.Identity(), nn.Identity()
        self.apply(self._init_weights)


def _build(step: tuple, ratio: float) -> AblatedConvMLP:
    _, down, dw, stage = step
    return AblatedConvMLP(down, dw, stage, ratio, **BASE)


def arms() -> list[Arm]:
    """The steps in order, each matched to the full ConvMLP (the last step, at the official ratio 2)."""
    return ratio_matched_arms({step[0]: partial(_build, step) for step in STEPS}, STEPS[-1][0], 2.0, RATIOS)


def verdict(table: list[dict]) -> Verdict:
    points = [row["test_top1"] for row in table]
    steps = list(zip(table, points, points[1:], strict=False))
    reason = "; ".join(f"{row['arm']} {p}" for row, p in zip(table, points, strict=True))
    if any(before.clearly_above(after) for _, before, after in steps):
        return Verdict(FAILS, reason)
    rising = all(after.mean > before.mean for _, before, after in steps)
    if rising and any(after.clearly_above(before) for _, before, after in steps):
        return Verdict(HOLDS, reason)
    return Verdict(INCONCLUSIVE, reason)


def plot(table: list[dict], path: Path) -> None:
    _plot.top1_bars(path, table, "ConvMLP: adding convolutions step by step")


STUDY = Study(
    name="convmlp-ablation",
    claim="From a pure channel-MLP baseline, conv downsampling, a depth-wise conv in the block and a conv stage "
    "each improve accuracy.",
    source="ConvMLP (Li et al. 2021), Sec. 4.3",
    rule=rule_of(__doc__),
    setup="Four ConvMLP variants (dims 32/64/128, one block per stage), adding conv downsampling, the depth-wise "
    "conv and the conv tokenizer + stage in turn; channel-MLP ratios re-fitted so all match the full model.",
    arms=arms,
    verdict=verdict,
    plot=plot,
)

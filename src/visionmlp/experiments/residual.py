"""residual: all-MLP networks need their residual connections (the Mixer, ResMLP and gMLP papers all build on
them; here the same models are trained with and without).

Setup: a Mixer and a gMLP of 8 blocks (width 64, patch 4; gMLP's channel ratio fitted to the Mixer's
parameters, within 10%). The plain variant of each is the *same* model, the same parameters and the same
initialisation, with its blocks' ``forward`` replaced by the residual-free equation
(:func:`without_residuals`), so the only difference is the skip connections.

Verdict rule: **holds** if for both families the residual model is clearly above the plain one
(non-overlapping mean ± spread); **does not hold** if for either family the plain model is clearly above or
level in mean; **inconclusive** otherwise.

Small budget estimate (2 CPU threads): 4 arms x 2 seeds x 150 steps of 64 images at ~150-400 img/s on an
idle machine: about 5 min with evaluation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..factory import create_model
from ..models.gmlp import SpatialGatingBlock
from ..models.mixer import MixerBlock
from . import _plot
from ._runner import Arm, fit_to, lookup
from ._study import FAILS, HOLDS, INCONCLUSIVE, Study, Verdict, rule_of

FAMILIES = ("mixer", "gmlp")
RATIOS = tuple(1 + 0.25 * i for i in range(17))  # 1 .. 5


class PlainMixerBlock(MixerBlock):
    """x = TokenMLP(LN(x)) ; x = ChannelMLP(LN(x)): the Mixer block without its two skips."""

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        x = self.drop_path(self.mlp_tokens(self.norm1(x), grid))
        return self.drop_path(self.mlp_channels(self.norm2(x)))


class PlainGatingBlock(SpatialGatingBlock):
    """x = GatedMlp(LN(x)): the gMLP block without its skip."""

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        return self.drop_path(self.mlp_channels(self.norm(x), grid))


PLAIN = {MixerBlock: PlainMixerBlock, SpatialGatingBlock: PlainGatingBlock}


def without_residuals(model: nn.Module) -> nn.Module:
    """Give every Mixer / gMLP block of ``model`` its residual-free ``forward``, in place.

    Swapping the class (each plain block subclasses its block and overrides only ``forward``) keeps the
    parameters, their names and their initialisation exactly those of the residual model.
    """
    for module in model.modules():
        if type(module) in PLAIN:
            module.__class__ = PLAIN[type(module)]
    return model


def _mixer() -> nn.Module:
    return create_model("mixer_s4_28", embed_dim=64, num_blocks=8, tokens_mlp_dim=32, channels_mlp_dim=256)


def _gmlp(ratio: float) -> nn.Module:
    return create_model("gmlp_s4_28", embed_dim=64, num_blocks=8, mlp_ratio=ratio)


def arms() -> list[Arm]:
    ratio = fit_to(Arm("mixer", _mixer).params(), _gmlp, RATIOS)
    builders = {"mixer": _mixer, "gmlp": lambda: _gmlp(ratio)}
    return [
        arm
        for family, make in builders.items()
        for arm in (Arm(family, make), Arm(f"{family}-plain", lambda make=make: without_residuals(make())))
    ]


def verdict(table: list[dict]) -> Verdict:
    pairs = {f: (lookup(table, "test_top1", arm=f), lookup(table, "test_top1", arm=f"{f}-plain")) for f in FAMILIES}
    reason = "; ".join(f"{f} {res} with residuals, {plain} without" for f, (res, plain) in pairs.items())
    if all(res.clearly_above(plain) for res, plain in pairs.values()):
        return Verdict(HOLDS, reason)
    if any(plain.mean >= res.mean for res, plain in pairs.values()):
        return Verdict(FAILS, reason)
    return Verdict(INCONCLUSIVE, reason)


def plot(table: list[dict], path: Path) -> None:
    series = {
        "with residuals": [lookup(table, "test_top1", arm=f) for f in FAMILIES],
        "without": [lookup(table, "test_top1", arm=f"{f}-plain") for f in FAMILIES],
    }
    _plot.bars(path, list(FAMILIES), series, "test top-1 (%)", "Residual connections on and off")


STUDY = Study(
    name="residual",
    claim="Residual connections are needed: the same all-MLP models train worse without them.",
    source="MLP-Mixer / ResMLP / gMLP architectures (all residual); this project's ablation",
    rule=rule_of(__doc__),
    setup="Mixer and gMLP, 8 blocks of width 64, each with and without the skip connections (same parameters "
    "and initialisation).",
    arms=arms,
    verdict=verdict,
    plot=plot,
)

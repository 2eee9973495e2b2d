"""Vision Permutator, ViP (Hou et al. 2021, arXiv 2106.12368).

Each Permutator block encodes height, width and channel information separately: the channels are split
into segments of ``S = C / segment_dim`` channels, and the height branch applies one Linear(C, C) to every
(segment, column) pair's ``H x S`` values (the width branch likewise to every (segment, row) pair's
``W x S`` values), which is why ``segment_dim`` must equal the stage's grid side (``H * S = C``). The three
branches are fused with split attention (see ``_permutator``). Built as the official
``Andrew-Qibin/VisionPermutator`` ``models/vip.py``; its state dicts convert with ``convert.vip``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.resample import resample_1d_axis
from ._permutator import BranchReweightMixer, PermutatorNet
from ._registry import (
    PretrainedCfg,
    Published,
    register_small_variants,
    register_variants,
)


class WeightedPermuteMlp(BranchReweightMixer):
    """The Weighted Permute-MLP: height, width and channel Linears (no bias), split-attention fusion.

    ``mlp_h``/``mlp_w`` index their C inputs and outputs as (token along the axis, channel within the
    segment), a ``segment_dim x S`` grid. On another grid side ``n`` (``dynamic_img_size``) the token axis
    of both sides is linearly interpolated from ``segment_dim`` to ``n`` points (the input side rescaled by
    ``segment_dim / n``, as a summed axis; ``layers.resample.resample_1d_axis``), giving an
    ``(n S) x (n S)`` matrix; the number of segments stays ``C / S``. At the native side the weight is
    used as it is.
    """

    def __init__(self, dim: int, segment_dim: int, qkv_bias: bool = False):
        super().__init__(dim, qkv_bias)
        if dim % segment_dim:
            raise ValueError(f"segment_dim {segment_dim} must divide the stage width {dim}")
        self.segment_dim = segment_dim
        self.seg_chs = dim // segment_dim  # S
        self.mlp_h = nn.Linear(dim, dim, bias=qkv_bias)
        self.mlp_w = nn.Linear(dim, dim, bias=qkv_bias)

    def _along(self, layer: nn.Linear, x: torch.Tensor, n: int) -> torch.Tensor:
        """``layer(x)`` for ``n`` tokens along its axis: the layer itself at the native side, its weights
        resampled to ``n`` tokens otherwise."""
        if n == self.segment_dim:
            return layer(x)
        s, m = self.seg_chs, self.segment_dim
        weight = layer.weight.reshape(m, s, m, s)  # (token out, chan out, token in, chan in)
        weight = resample_1d_axis(resample_1d_axis(weight, 0, m, n), 2, m, n, summed=True)
        bias = layer.bias
        if bias is not None:
            bias = resample_1d_axis(bias.reshape(m, s), 0, m, n).reshape(n * s)
        return F.linear(x, weight.reshape(n * s, n * s), bias)

    def mix_height(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        s = self.seg_chs
        x = x.reshape(b, h, w, c // s, s).permute(0, 3, 2, 1, 4).reshape(b, c // s, w, h * s)  # (B, G, W, H*S)
        x = self._along(self.mlp_h, x, h)
        return x.reshape(b, c // s, w, h, s).permute(0, 3, 2, 1, 4).reshape(b, h, w, c)

    def mix_width(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        s = self.seg_chs
        x = x.reshape(b, h, w, c // s, s).permute(0, 1, 3, 2, 4).reshape(b, h, c // s, w * s)  # (B, H, G, W*S)
        x = self._along(self.mlp_w, x, w)
        return x.reshape(b, h, c // s, w, s).permute(0, 1, 3, 2, 4).reshape(b, h, w, c)


class VisionPermutator(PermutatorNet):
    """ViP with the official constructor's arguments (``segment_dim[i]`` = stage ``i``'s grid side)."""

    def __init__(
        self,
        layers: Sequence[int] = (4, 3, 8, 3),
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        patch_size: int = 7,
        embed_dims: Sequence[int] = (192, 384, 384, 384),
        transitions: Sequence[bool] = (True, False, False, False),
        segment_dim: Sequence[int] = (32, 16, 16, 16),
        mlp_ratios: Sequence[float] = (3, 3, 3, 3),
        skip_lam: float = 1.0,
        qkv_bias: bool = False,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
    ):
        super().__init__(
            lambda i, dim: WeightedPermuteMlp(dim, segment_dim[i], qkv_bias),
            segment_dim,
            "segment_dim",
            layers,
            embed_dims,
            transitions,
            mlp_ratios,
            num_classes=num_classes,
            img_size=img_size,
            in_chans=in_chans,
            patch_size=patch_size,
            skip_lam=skip_lam,
            drop_path_rate=drop_path_rate,
            dynamic_img_size=dynamic_img_size,
        )


_SRC = (
    "Hou et al. 2021: top-1 from the Andrew-Qibin/VisionPermutator README; published MACs (S/7, M/7) as quoted by "
    "third-party tables; exact params and official_macs computed from the official code"
)
_REGIME = "ImageNet-1k, 300 ep"


_published = partial(Published, params_exact=True, regime=_REGIME, source=_SRC)


_RATIOS = [3, 3, 3, 3]
_NO_T = [False, False, False, False]
_T1 = [True, False, False, False]
_VARIANTS = {
    "vip_s14": dict(
        arch=dict(
            layers=[4, 3, 8, 3],
            patch_size=14,
            embed_dims=[384] * 4,
            transitions=_NO_T,
            segment_dim=[16] * 4,
            mlp_ratios=_RATIOS,
        ),
        published=_published(params=29_892_904, official_macs=6.87, regime=""),
    ),
    "vip_s7": dict(
        arch=dict(
            layers=[4, 3, 8, 3],
            patch_size=7,
            embed_dims=[192, 384, 384, 384],
            transitions=_T1,
            segment_dim=[32, 16, 16, 16],
            mlp_ratios=_RATIOS,
        ),
        published=_published(params=25_114_984, official_macs=6.92, macs=6.9, top1=81.5),
    ),
    "vip_m7": dict(
        arch=dict(
            layers=[4, 3, 14, 3],
            patch_size=7,
            embed_dims=[256, 256, 512, 512],
            transitions=[False, True, False, False],
            segment_dim=[32, 32, 16, 16],
            mlp_ratios=_RATIOS,
        ),
        published=_published(params=55_272_488, official_macs=16.33, macs=16.3, top1=82.7),
    ),
    "vip_l7": dict(
        arch=dict(
            layers=[8, 8, 16, 4],
            patch_size=7,
            embed_dims=[256, 512, 512, 512],
            transitions=_T1,
            segment_dim=[32, 16, 16, 16],
            mlp_ratios=_RATIOS,
        ),
        published=_published(params=87_784_936, official_macs=24.40, top1=83.2),
        cfg=dict(crop_pct=0.875),
    ),
}
# Two stages (a 2x2 downsample with a width change between them) on an 8x8 then 4x4 grid.
_TINY = dict(
    layers=[1, 1],
    img_size=32,
    patch_size=4,
    embed_dims=[16, 32],
    transitions=[True, False],
    segment_dim=[8, 4],
    mlp_ratios=[2, 2],
)

register_variants(VisionPermutator, _VARIANTS, family="vip", pretrained_cfg=PretrainedCfg(crop_pct=0.9), tiny=_TINY)

# Small ViPs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4 gives a 7x7 / 8x8 grid, too small to
# halve, so all 5 blocks run at one resolution; C = 112 is divisible by both sides (~0.70 M parameters, ~31 M MACs).
_SMALL = dict(layers=[2, 1, 1, 1], patch_size=4, embed_dims=[112] * 4, transitions=_NO_T, mlp_ratios=[3, 3, 3, 3])
register_small_variants(
    "vip_s4",
    VisionPermutator,
    _SMALL,
    family="vip",
    per_size={28: dict(segment_dim=[7] * 4), 32: dict(segment_dim=[8] * 4)},
)

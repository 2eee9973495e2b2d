"""ResMLP (Touvron et al. 2021, arXiv 2105.03404).

A residual network of two sublayers per block, each pre-normalised by an Affine (``alpha * x + beta``,
no statistics: ResMLP has no LayerNorm anywhere) and post-scaled by a per-channel LayerScale: a single
square Linear over the patches, shared across channels, then a channel MLP. The head mean-pools the
patches after a final Affine. Built as the official code (``facebookresearch/deit: resmlp_models.py``):
truncated-normal(0.02) Linear init with zero biases, PyTorch's default patch-embedding conv init, a
constant (not ramped) stochastic-depth rate and depth-dependent LayerScale init. Submodule names follow
timm (``stem.proj``, ``linear_tokens``, ``mlp_channels``, ``ls1``/``ls2``), Affine parameters keep the
official ``(dim,)`` shape.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import Affine, DropPath, Mlp, trunc_normal_
from ..layers.token_linear import TokenLinear
from ._fuse import FusedResBlock
from ._isotropic import PatchTokenModel
from ._registry import (
    PretrainedCfg,
    Published,
    register_small_variants,
    register_variant,
)


class ResBlock(nn.Module):
    """x += ls1 * Linear_tokens(Aff(x)^T)^T ; x += ls2 * MLP(Aff(x))."""

    def __init__(
        self,
        dim: int,
        grid: tuple[int, int],
        mlp_ratio: float = 4.0,
        init_scale: float = 1e-4,
        drop: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm1 = Affine(dim)
        self.linear_tokens = TokenLinear(grid)
        self.norm2 = Affine(dim)
        self.mlp_channels = Mlp(dim, int(mlp_ratio * dim), drop=drop)
        self.ls1 = nn.Parameter(torch.full((dim,), float(init_scale)))
        self.ls2 = nn.Parameter(torch.full((dim,), float(init_scale)))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:  # x: (B, N, C)
        x = x + self.drop_path(self.ls1 * self.linear_tokens(self.norm1(x), grid))
        return x + self.drop_path(self.ls2 * self.mlp_channels(self.norm2(x)))

    def fuse(self) -> FusedResBlock:
        """The Affines and LayerScales folded into the Linears next to them (``_fuse.py``); inference only."""
        return FusedResBlock(self)


class ResMLP(PatchTokenModel):
    """ResMLP with the official code's hyper-parameter names (``depth``, ``init_scale`` = LayerScale init)."""

    def __init__(
        self,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        patch_size: int = 16,
        embed_dim: int = 384,
        depth: int = 12,
        mlp_ratio: float = 4.0,
        init_scale: float = 1e-4,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
    ):
        super().__init__()
        self.init_stem(num_classes, img_size, in_chans, patch_size, embed_dim, drop_rate, dynamic_img_size)
        # The official stochastic depth is the same rate in every block, not a ramp.
        self.blocks = nn.Sequential(
            *[
                ResBlock(embed_dim, self.grid_size, mlp_ratio, init_scale, drop_rate, drop_path_rate)
                for _ in range(depth)
            ]
        )
        self.norm = Affine(embed_dim)
        self.finish_init()
        self._init_weights()

    def _init_weights(self) -> None:
        # Official: every Linear trunc_normal(0.02) with zero bias; the stem conv keeps PyTorch's init.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)


_SRC = "Touvron et al. 2021, Table 3"
_SRC_S36 = "Touvron et al. 2021, Table D.3"
_REGIME = "ImageNet-1k from scratch, 400 ep"


def _resmlp(patch, dim, depth, init_scale, params, macs, official_macs, top1, source=_SRC):
    return (
        dict(patch_size=patch, embed_dim=dim, depth=depth, init_scale=init_scale),
        Published(
            params=params,
            params_exact=True,
            macs=macs,
            official_macs=official_macs,
            top1=top1,
            regime=_REGIME,
            source=source,
        ),
    )


_VARIANTS = {
    "resmlp_12_224": _resmlp(16, 384, 12, 0.1, 15_350_872, 3.0, 3.01, 76.6),
    "resmlp_24_224": _resmlp(16, 384, 24, 1e-5, 30_020_680, 6.0, 5.96, 79.4),
    "resmlp_36_224": _resmlp(16, 384, 36, 1e-6, 44_690_488, 8.9, 8.91, 79.7, _SRC_S36),
    # The "ResMLP-B24" of the paper's Tables 1 and 3 (patch 16); not registered in the official code.
    "resmlp_b24_224": _resmlp(16, 768, 24, 1e-6, 115_736_776, 23.0, 23.02, 81.0),
    # "B24/8": the official code's resmlpB_24, the one with released weights.
    "resmlp_big_24_224": _resmlp(8, 768, 24, 1e-6, 129_138_280, 100.2, 100.23, 81.0),
}
_TINY = dict(embed_dim=32, depth=2, img_size=32, patch_size=8)
# Official evaluation: bicubic resize to int(224 / 0.9), centre crop, ImageNet mean/std.
_IMAGENET_CFG = PretrainedCfg(crop_pct=0.9)

for _name, (_arch, _published) in _VARIANTS.items():
    register_variant(
        _name, ResMLP, _arch, family="resmlp", pretrained_cfg=_IMAGENET_CFG, published=_published, tiny=_TINY
    )

# Small ResMLPs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4, dim 128, 4 blocks (~0.54 M,
# ~27 M MACs), the shape of mixer_s4_*; LayerScale 0.1 as for the shallow S12.
_SMALL = dict(patch_size=4, embed_dim=128, depth=4, init_scale=0.1)
register_small_variants("resmlp_s4", ResMLP, _SMALL, family="resmlp")

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

from functools import partial

import torch
from torch import nn

from ..layers import Affine, DropPath, Mlp, trunc_normal_
from ..layers.token_linear import TokenLinear
from ._fuse import FusedResBlock
from ._isotropic import PatchTokenModel
from ._registry import (
    PretrainedCfg,
    Published,
    WeightFile,
    register_small_variants,
    register_variants,
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


_published = partial(Published, params_exact=True, regime=_REGIME, source=_SRC)
_DEIT = "https://dl.fbaipublicfiles.com/deit"


def _deit(stem: str, top1_dist: float | None, extra: tuple[str, ...] = ()) -> tuple[WeightFile, ...]:
    """DeiT's ResMLP state dicts: distilled (README top-1), not distilled, and any extra tags (22k, dino)."""
    files = [WeightFile(f"{_DEIT}/{stem}_dist.pth", f"{stem}_dist.pth", "deit_resmlp", tag="dist", top1=top1_dist)]
    files.append(WeightFile(f"{_DEIT}/{stem}_no_dist.pth", f"{stem}_no_dist.pth", "deit_resmlp", tag="no_dist"))
    files += [WeightFile(f"{_DEIT}/{stem}_{tag}.pth", f"{stem}_{tag}.pth", "deit_resmlp", tag=tag) for tag in extra]
    return tuple(files)


_VARIANTS = {
    "resmlp_12_224": dict(
        arch=dict(patch_size=16, embed_dim=384, depth=12, init_scale=0.1),
        published=_published(params=15_350_872, macs=3.0, official_macs=3.01, top1=76.6),
        weights=_deit("resmlp_12", 77.8, ("dino",)),
    ),
    "resmlp_24_224": dict(
        arch=dict(patch_size=16, embed_dim=384, depth=24, init_scale=1e-5),
        published=_published(params=30_020_680, macs=6.0, official_macs=5.96, top1=79.4),
        weights=_deit("resmlp_24", 80.8, ("dino",)),
    ),
    "resmlp_36_224": dict(
        arch=dict(patch_size=16, embed_dim=384, depth=36, init_scale=1e-6),
        published=_published(params=44_690_488, macs=8.9, official_macs=8.91, top1=79.7, source=_SRC_S36),
        weights=_deit("resmlp_36", 81.1),
    ),
    # The "ResMLP-B24" of the paper's Tables 1 and 3 (patch 16); not registered in the official code.
    "resmlp_b24_224": dict(
        arch=dict(patch_size=16, embed_dim=768, depth=24, init_scale=1e-6),
        published=_published(params=115_736_776, macs=23.0, official_macs=23.02, top1=81.0),
    ),
    # "B24/8": the official code's resmlpB_24, the one with released weights.
    "resmlp_big_24_224": dict(
        arch=dict(patch_size=8, embed_dim=768, depth=24, init_scale=1e-6),
        published=_published(params=129_138_280, macs=100.2, official_macs=100.23, top1=81.0),
        weights=_deit("resmlpB_24", 83.6, ("22k",)),
    ),
}
_TINY = dict(embed_dim=32, depth=2, img_size=32, patch_size=8)
# Official evaluation: bicubic resize to int(224 / 0.9), centre crop, ImageNet mean/std.
_IMAGENET_CFG = PretrainedCfg(crop_pct=0.9)
register_variants(ResMLP, _VARIANTS, family="resmlp", pretrained_cfg=_IMAGENET_CFG, tiny=_TINY)

# Small ResMLPs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4, dim 128, 4 blocks (~0.54 M,
# ~27 M MACs), the shape of mixer_s4_*; LayerScale 0.1 as for the shallow S12.
_SMALL = dict(patch_size=4, embed_dim=128, depth=4, init_scale=0.1)
register_small_variants("resmlp_s4", ResMLP, _SMALL, family="resmlp")

"""Feed-forward only ViT: "Do You Even Need Attention?" (Melas-Kyriazi 2021, arXiv 2105.02723).

A ViT whose attention layers are replaced by a feed-forward layer over the token axis. Each block
first applies the usual feature MLP over channels, then a *patch* MLP over the tokens (class token
included), whose LayerNorm normalises over the token axis. The model classifies from the class token.
Built as the official ``vision_transformer_linear.py``: a learned position grid ``(1, C, 14, 14)`` plus
a separate class-token position, bilinearly resized to the patch grid when they differ (patch 32);
token MLP hidden width ``4 x tokens``; LayerNorm eps 1e-6; trunc_normal(0.02) Linear init.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DropPath, Mlp, trunc_normal_
from ..layers._helpers import to_2tuple
from ..layers.drop import Dropout, drop_path_rates
from ..layers.linear import linear
from ..layers.resample import resample_grid_axis
from ._base import VisionModel
from ._features import FeatureInfo, tokens_to_nchw
from ._registry import (
    PretrainedCfg,
    Published,
    WeightFile,
    register_small_variants,
    register_variants,
)


def _resample_tokens(t: torch.Tensor, dim: int, src: tuple, dst: tuple, summed: bool = False) -> torch.Tensor:
    """Resample a ``1 + H*W`` token axis to another grid, keeping the class token's entry as it is."""
    if tuple(src) == tuple(dst):
        return t
    cls, grid = t.split([1, src[0] * src[1]], dim)
    return torch.cat([cls, resample_grid_axis(grid, dim, src, dst, summed=summed)], dim)


class TokenLayerNorm(nn.LayerNorm):
    """LayerNorm over the ``N = 1 + H*W`` token axis (per channel), resampled for another token grid."""

    def __init__(self, grid: tuple[int, int], eps: float):
        super().__init__(1 + grid[0] * grid[1], eps=eps)
        self.grid = tuple(grid)

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:  # x: (B, C, N)
        weight = _resample_tokens(self.weight, 0, self.grid, grid)
        bias = _resample_tokens(self.bias, 0, self.grid, grid)
        return F.layer_norm(x, (x.shape[-1],), weight, bias, self.eps)


class TokenFF(Mlp):
    """The patch feed-forward layer Linear(N, 4N) -> GELU -> Linear(4N, N), shared across channels.

    ``N = 1 + H*W`` counts the class token. Given another token ``grid``, the grid part of fc1's input
    axis and of fc2's output axis is resampled; the class token's row and column stay as they are.
    """

    def __init__(self, grid: tuple[int, int], mlp_ratio: float, drop: float):
        num_tokens = 1 + grid[0] * grid[1]
        super().__init__(num_tokens, int(num_tokens * mlp_ratio), drop=drop)
        self.grid = tuple(grid)

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:  # x: (B, C, N)
        if tuple(grid) == self.grid:
            return super().forward(x)
        w1 = _resample_tokens(self.fc1.weight, 1, self.grid, grid, summed=True)
        w2 = _resample_tokens(self.fc2.weight, 0, self.grid, grid)
        b2 = _resample_tokens(self.fc2.bias, 0, self.grid, grid)
        x = self.drop1(self.act(linear(x, w1, self.fc1.bias)))
        return self.drop2(linear(x, w2, b2))


class FFOnlyBlock(nn.Module):
    """x += FeatureFF(LN(x)) ; x += PatchFF(LN_tokens(x^T))^T: features first, then tokens (Mixer's reverse).

    Official names: ``norm1``/``mlp1`` act over channels, ``norm2``/``mlp2`` over the token axis.
    """

    def __init__(
        self,
        dim: int,
        grid: tuple[int, int],
        mlp_ratio: float = 4.0,
        norm_eps: float = 1e-6,
        drop: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.mlp1 = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp2 = TokenFF(grid, mlp_ratio, drop)
        self.norm2 = TokenLayerNorm(grid, norm_eps)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:  # x: (B, N, C)
        x = x + self.drop_path(self.mlp1(self.norm1(x)))
        x = x.transpose(1, 2)  # (B, C, N)
        x = x + self.drop_path(self.mlp2(self.norm2(x, grid), grid))
        return x.transpose(1, 2)


class FFOnly(VisionModel):
    """The feed-forward-only ViT (official ``LinearVisionTransformer``; its unused ``num_heads`` dropped).

    ``pos_grid`` is the learned position grid's size (the official ``learned_positional_encoding_size``,
    14x14 for every released model); a patch grid of another size uses it bilinearly resized.
    """

    supports_dynamic_img_size = True

    def __init__(
        self,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        mlp_ratio: float = 4.0,
        pos_grid=(14, 14),
        norm_eps: float = 1e-6,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
    ):
        super().__init__()
        self.init_patch_stem(num_classes, img_size, in_chans, patch_size, embed_dim, dynamic_img_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *to_2tuple(pos_grid)))  # NCHW grid
        self.cls_pos_embed = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_drop = Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.Sequential(
            *[FFOnlyBlock(embed_dim, self.grid_size, mlp_ratio, norm_eps, drop_rate, dpr[i]) for i in range(depth)]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.feature_info = FeatureInfo(
            {"num_chs": embed_dim, "reduction": self.stem.patch_size[0], "module": f"blocks.{i}"} for i in range(depth)
        )
        self.head = self.build_head(num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # Official: trunc_normal(0.02) for tokens, position tables and every Linear (zero bias); the patch
        # convolution keeps PyTorch's default init; LayerNorms start at (1, 0).
        for t in (self.cls_token, self.pos_embed, self.cls_pos_embed):
            trunc_normal_(t, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def no_weight_decay(self) -> set[str]:
        return {"cls_token", "pos_embed", "cls_pos_embed"}

    def _grid(self, x: torch.Tensor) -> tuple[int, int]:
        return (x.shape[-2] // self.size_multiple[0], x.shape[-1] // self.size_multiple[1])

    def _embed(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Patch tokens with the class token prepended, plus positions: (B, 1 + H*W, C)."""
        pos = self.pos_embed
        if tuple(pos.shape[-2:]) != tuple(grid):  # as the official code: plain bilinear, no antialiasing
            pos = F.interpolate(pos, size=grid, mode="bilinear", align_corners=False)
        pos = torch.cat([self.cls_pos_embed, pos.flatten(2).transpose(1, 2)], dim=1)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), self.stem(x)], dim=1)
        return self.pos_drop(x + pos)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        grid = self._grid(x)
        x = self.run_blocks(self.blocks, self._embed(x, grid), grid)
        return self.norm(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]

    def forward_intermediates(self, x, indices):
        x = self.prepare_input(x)
        grid = self._grid(x)
        x = self._embed(x, grid)
        out = []
        for i, block in enumerate(self.blocks[: indices[-1] + 1]):
            x = block(x, grid)
            if i in indices:
                out.append(tokens_to_nchw(x[:, 1:], grid))
        return out


_SRC = "Melas-Kyriazi 2021, Table 1 (params rounded; exact count and MACs computed from the official code)"
_REGIME = "ImageNet-1k from scratch, DeiT recipe, 300 ep"
_IMAGENET_CFG = PretrainedCfg(crop_pct=0.875)
_published = partial(Published, params_exact=True, regime=_REGIME, source=_SRC)
_FFONLY = "https://github.com/lukemelas/do-you-even-need-attention/releases/download/v0.0.1"


def _release(size: str, top1: float) -> tuple[WeightFile, ...]:
    name = f"linear-{size}-checkpoint.pth"
    return (WeightFile(f"{_FFONLY}/{name}", name, "ffonly", tag="in1k", top1=top1),)


_VARIANTS = {
    "ffonly_tiny": dict(
        arch=dict(patch_size=16, embed_dim=192, depth=12),
        published=_published(params=7_676_332, official_macs=1.45, top1=61.4),
        weights=_release("tiny", 61.4),
    ),
    "ffonly_base": dict(
        arch=dict(patch_size=16, embed_dim=768, depth=12),
        published=_published(params=61_943_020, official_macs=14.15, top1=74.9),
        weights=_release("base", 74.9),
    ),
    "ffonly_large": dict(
        arch=dict(patch_size=32, embed_dim=1024, depth=24),
        published=_published(params=206_363_576, official_macs=10.73, top1=71.4),
    ),
}
_TINY = dict(embed_dim=32, depth=2, img_size=32, patch_size=8, pos_grid=(4, 4))
register_variants(FFOnly, _VARIANTS, family="ff_only", pretrained_cfg=_IMAGENET_CFG, tiny=_TINY)

# Small FF-only models for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4, C=128, 4 blocks,
# the position grid at the patch grid (~0.62 M parameters, ~37 M MACs at 28x28).
_SMALL = dict(patch_size=4, embed_dim=128, depth=4)
register_small_variants(
    "ffonly_s4",
    FFOnly,
    _SMALL,
    family="ff_only",
    tiny=_TINY,
    per_size={28: dict(pos_grid=(7, 7)), 32: dict(pos_grid=(8, 8))},
)

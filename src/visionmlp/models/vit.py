"""Vision Transformer baselines (Dosovitskiy et al. 2021, arXiv 2010.11929; DeiT, Touvron et al. 2021).

The all-MLP papers compare against ViT/DeiT, so this is the reference point for "what does attention
buy": patch-16 conv stem, a class token and a learned position table, pre-LN blocks of multi-head
self-attention and a GELU MLP, a final LayerNorm, and a classifier on the class token. Submodule names
and initialisation follow timm's ``VisionTransformer`` (which the DeiT weights use), so timm/DeiT state
dicts load as they are.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import DropPath, Mlp, trunc_normal_
from ..layers.attention import attention
from ..layers.drop import Dropout, drop_path_rates
from ..layers.resample import resample_grid_axis
from ._base import VisionModel
from ._features import FeatureInfo, tokens_to_nchw
from ._registry import (
    PretrainedCfg,
    Published,
    register_small_variants,
    register_variants,
)


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (timm's layout, so weights load by name)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        # (B, N, 3C) -> 3 x (B, heads, N, head_dim)
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        x = attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, c)))


class Block(nn.Module):
    """x += MHSA(LN(x)) ; x += MLP(LN(x))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 1 + N, C)
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class VisionTransformer(VisionModel):
    """ViT with a class token; ``drop_rate`` is the original code's dropout after the position
    embedding and at the end of every residual branch."""

    supports_dynamic_img_size = True

    def __init__(
        self,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_eps: float = 1e-6,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
    ):
        super().__init__()
        self.init_patch_stem(num_classes, img_size, in_chans, patch_size, embed_dim, dynamic_img_size, "patch_embed")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_embed.num_patches, embed_dim))
        self.pos_drop = Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.Sequential(
            *[
                Block(embed_dim, num_heads, mlp_ratio, qkv_bias, norm_eps, drop_rate, attn_drop_rate, dpr[i])
                for i in range(depth)
            ]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        reduction = self.patch_embed.patch_size[0]
        self.feature_info = FeatureInfo(
            {"num_chs": embed_dim, "reduction": reduction, "module": f"blocks.{i}"} for i in range(depth)
        )
        self.head = self.build_head(num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # timm/DeiT: trunc-normal(0.02) Linear kernels with zero biases, position table std 0.02, a
        # near-zero class token; the patch conv and LayerNorms keep PyTorch's defaults.
        trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def no_weight_decay(self) -> set[str]:
        return {"cls_token", "pos_embed"}

    def _grid(self, x: torch.Tensor) -> tuple[int, int]:
        return (x.shape[-2] // self.size_multiple[0], x.shape[-1] // self.size_multiple[1])

    def _embed(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """Patch tokens with the class token prepended and the position table added.

        At another grid the patch part of the table is resampled bicubically over the grid; the class
        token's position is kept as it is.
        """
        x = self.patch_embed(x)
        pos = self.pos_embed
        if grid != self.grid_size:
            patch_pos = resample_grid_axis(pos[:, 1:], 1, self.grid_size, grid, mode="bicubic")
            pos = torch.cat([pos[:, :1], patch_pos], dim=1)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.pos_drop(x + pos)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        x = self._embed(x, self._grid(x))
        return self.norm(self.run_blocks(self.blocks, x))

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]

    def forward_intermediates(self, x, indices):
        x = self.prepare_input(x)
        grid = self._grid(x)
        x = self._embed(x, grid)
        out = []
        for i, block in enumerate(self.blocks[: indices[-1] + 1]):
            x = block(x)
            if i in indices:
                out.append(tokens_to_nchw(x[:, 1:], grid))
        return out


_DEIT_SRC = "Touvron et al. 2021 (ResMLP), Table 1 (DeiT-S params, FLOPs, top-1)"
_VIT_B_SRC = "Melas-Kyriazi 2021, Table 1 (params, top-1); Touvron et al. 2021 (ResMLP), Table 2 (FLOPs)"

# Counts are timm/DeiT's exact ones (shared/specs/param_counts.json "published"). official_macs: the
# fvcore-style count (every Linear, the patch conv and attention's two matmuls) is 4.60 G for S/16 and
# 17.56 G for B/16, within 1% of the published 4.6 G and 17.5 G.
_VARIANTS = {
    "vit_ti16_224": dict(
        arch=dict(embed_dim=192, depth=12, num_heads=3),
        published=Published(
            params=5_717_416,
            params_exact=True,
            top1=72.2,
            regime="ImageNet-1k, DeiT recipe (DeiT-Ti)",
            source="Melas-Kyriazi 2021, Table 1 (DeiT-Ti)",
        ),
    ),
    "vit_s16_224": dict(
        arch=dict(embed_dim=384, depth=12, num_heads=6),
        published=Published(
            params=22_050_664,
            params_exact=True,
            macs=4.6,
            official_macs=4.6,
            top1=79.8,
            regime="ImageNet-1k, DeiT recipe (DeiT-S)",
            source=_DEIT_SRC,
        ),
    ),
    "vit_b16_224": dict(
        arch=dict(embed_dim=768, depth=12, num_heads=12),
        published=Published(
            params=86_567_656,
            params_exact=True,
            macs=17.5,
            official_macs=17.5,
            top1=77.9,
            regime="ImageNet-1k only (ViT paper, fine-tuned at 384)",
            source=_VIT_B_SRC,
        ),
    ),
}
_TINY = dict(embed_dim=32, depth=2, num_heads=2, img_size=32, patch_size=8)
# DeiT's evaluation transform (ImageNet mean/std, resize 256 + centre crop 224, bicubic).
_IMAGENET_CFG = PretrainedCfg(crop_pct=0.875)

register_variants(VisionTransformer, _VARIANTS, family="vit", pretrained_cfg=_IMAGENET_CFG, tiny=_TINY)

# Small ViTs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4, width 96, 3 heads of 32, 5 blocks
# (~0.57 M, ~30 M MACs at 28x28).
_SMALL = dict(patch_size=4, embed_dim=96, depth=5, num_heads=3)
_SMALL_TINY = dict(embed_dim=32, depth=2, num_heads=2)
register_small_variants("vit_s4", VisionTransformer, _SMALL, family="vit", tiny=_SMALL_TINY)

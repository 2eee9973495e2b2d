"""gMLP (Liu et al. 2021, "Pay Attention to MLPs", arXiv 2105.08050).

Each block is one channel MLP whose hidden activations are gated across tokens: the Spatial Gating
Unit splits them into halves ``u, v``, normalises ``v``, mixes it over the tokens with a square Linear
and multiplies: ``u * (W LN(v) + b)``. The gate starts as the identity (W ~ 0, b = 1), so an untrained
gMLP is a stack of channel MLPs. No position embedding or class token; the head mean-pools the tokens.
There is no official code: built as timm's ``mlp_mixer.py`` (the spec's source), including its init
(Xavier-uniform Linears with N(0, 1e-6) biases, LeCun-normal stem, zero head), its constant drop-path
rate and its submodule names, so timm's state dicts load as they are.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..layers import Dropout, DropPath, lecun_normal_
from ..layers.packed_linear import absorb_activation
from ..layers.token_linear import TokenLinear
from ._isotropic import PatchTokenModel
from ._registry import (
    INCEPTION_MEAN,
    INCEPTION_STD,
    PretrainedCfg,
    Published,
    register_small_variants,
    register_variants,
)


class SpatialGatingUnit(nn.Module):
    """s(Z) = U * (W LN(V) + b), with W a Linear over the tokens; halves the channels."""

    def __init__(self, dim: int, grid: tuple[int, int], norm_eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(dim // 2, eps=norm_eps)
        self.proj = TokenLinear(grid)

    def init_weights(self) -> None:
        # Near-zero spatial weights and unit bias: the gate starts as the identity.
        nn.init.normal_(self.proj.weight, std=1e-6)
        nn.init.ones_(self.proj.bias)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        u, v = x.chunk(2, dim=-1)
        return self.gated(u, v, grid)

    def gated(self, u: torch.Tensor, v: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        """``u``, ``v``: the two (B, N, C) halves of the gated MLP's hidden features."""
        return u * self.proj(self.norm(v), grid)  # v mixed along N


class GatedMlp(nn.Module):
    """Proj_out(SGU(GELU(Proj_in(x)))): d -> d_ffn -> gate -> d_ffn/2 -> d."""

    def __init__(self, dim: int, hidden: int, grid: tuple[int, int], drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.drop1 = Dropout(drop)
        self.gate = SpatialGatingUnit(hidden, grid)
        self.fc2 = nn.Linear(hidden // 2, dim)
        self.drop2 = Dropout(drop)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        x = self.drop1(self.act(self.fc1(x)))
        return self.drop2(self.fc2(self.gate(x, grid)))

    def fast_form(self) -> SplitGatedMlp:
        """The same function with ``u`` and ``v`` from two GEMMs (:class:`SplitGatedMlp`); ``fc1`` must be a
        ``layers.Linear`` (``models/_pack.py`` puts them in place first)."""
        self.fc1.out_chunks = 2
        self.__class__ = SplitGatedMlp
        return self


class SplitGatedMlp(GatedMlp):
    """:class:`GatedMlp`'s fast form (what the builder makes of it): the same parameters and function, with ``u``
    and ``v`` computed by one GEMM each into their own contiguous tensors, where halves of one output are strided
    views that the gate's LayerNorm copies (6% of gMLP-S's bfloat16 forward in a profile) and whose gradients a
    ``cat`` joins. Packed (:meth:`pack`), each GEMM runs on its own packed weight with the GELU as its post-op."""

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        u, v = (self.drop1(self.act(half)) for half in self.fc1.forward_chunks(x))
        return self.drop2(self.fc2(self.gate.gated(u, v, grid)))

    def pack(self) -> SplitGatedMlp:
        absorb_activation(self, "fc1", "act")
        return self


class SpatialGatingBlock(nn.Module):
    """x += GatedMlp(LN(x))."""

    def __init__(
        self,
        dim: int,
        grid: tuple[int, int],
        mlp_ratio: float = 6.0,
        norm_eps: float = 1e-6,
        drop: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp_channels = GatedMlp(dim, int(mlp_ratio * dim), grid, drop=drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:  # x: (B, N, C)
        return x + self.drop_path(self.mlp_channels(self.norm(x), grid))


class GMlp(PatchTokenModel):
    """gMLP with timm's hyper-parameter names (d_model = ``embed_dim``, d_ffn = ``mlp_ratio * embed_dim``)."""

    def __init__(
        self,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        patch_size: int = 16,
        num_blocks: int = 30,
        embed_dim: int = 256,
        mlp_ratio: float = 6.0,
        norm_eps: float = 1e-6,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
    ):
        super().__init__()
        self.init_stem(num_classes, img_size, in_chans, patch_size, embed_dim, drop_rate, dynamic_img_size)
        # timm gives every block the same drop-path rate.
        self.blocks = nn.Sequential(
            *[
                SpatialGatingBlock(embed_dim, self.grid_size, mlp_ratio, norm_eps, drop_rate, drop_path_rate)
                for _ in range(num_blocks)
            ]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.finish_init()
        self._init_weights()

    def _init_weights(self) -> None:
        lecun_normal_(self.stem.proj.weight)
        nn.init.zeros_(self.stem.proj.bias)
        for module in self.blocks.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.normal_(module.bias, std=1e-6)
        for module in self.blocks.modules():
            if isinstance(module, SpatialGatingUnit):
                module.init_weights()

    def init_head(self, head: nn.Linear) -> None:
        nn.init.zeros_(head.weight)  # timm zero-initialises the classifier
        nn.init.zeros_(head.bias)


_SRC = "Liu et al. 2021 as quoted by the ViP README (S, B) and third-party tables (Ti, MACs)"
_REGIME = "ImageNet-1k from scratch"


_published = partial(Published, params_exact=True, regime=_REGIME, source=_SRC)
_VARIANTS = {
    "gmlp_ti16_224": dict(
        arch=dict(patch_size=16, num_blocks=30, embed_dim=128, mlp_ratio=6),
        published=_published(params=5_867_328, macs=1.4, official_macs=1.34, top1=72.3),
    ),
    "gmlp_s16_224": dict(
        arch=dict(patch_size=16, num_blocks=30, embed_dim=256, mlp_ratio=6),
        published=_published(params=19_422_656, macs=4.5, official_macs=4.42, top1=79.6),
    ),
    "gmlp_b16_224": dict(
        arch=dict(patch_size=16, num_blocks=30, embed_dim=512, mlp_ratio=6),
        published=_published(params=73_075_392, macs=15.8, official_macs=15.78, top1=81.6),
    ),
}
_TINY = dict(embed_dim=32, num_blocks=2, img_size=32, patch_size=8)
_IMAGENET_CFG = PretrainedCfg(mean=INCEPTION_MEAN, std=INCEPTION_STD, crop_pct=0.875)
register_variants(GMlp, _VARIANTS, family="gmlp", pretrained_cfg=_IMAGENET_CFG, tiny=_TINY)

# Small gMLPs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4, d_model 128, d_ffn 512, 6 blocks
# (~0.62 M, ~33 M MACs: about mixer_s4_*'s cost).
_SMALL = dict(patch_size=4, embed_dim=128, num_blocks=6, mlp_ratio=4)
register_small_variants("gmlp_s4", GMlp, _SMALL, family="gmlp")

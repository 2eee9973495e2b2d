"""MLP-Mixer (Tolstikhin et al. 2021, arXiv 2105.01601).

Each block mixes tokens with an MLP shared across channels, then channels with an MLP shared across
tokens, both pre-LayerNorm with residuals; the head mean-pools the tokens. Built as the official Flax
code (``vit_jax/models_mixer.py``): LeCun-normal Dense/stem init, zero head, LayerNorm eps 1e-6.
``gelu_approximate="tanh"`` reproduces Flax's default GELU for its released weights; the default exact
GELU matches the PyTorch (timm) weights. Submodule names follow timm so its state dicts load as they are.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..layers import DropPath, Mlp, lecun_normal_
from ..layers.drop import Dropout, drop_path_rates
from ..layers.resample import resample_grid_axis
from ..layers.token_linear import TokenMixingLinear, mix_tokens
from ._isotropic import PatchTokenModel
from ._registry import (
    INCEPTION_MEAN,
    INCEPTION_STD,
    PretrainedCfg,
    Published,
    WeightFile,
    register_small_variants,
    register_variants,
)


class TokenMlp(nn.Module):
    """The token-mixing MLP: Linear(S, D_S) -> GELU -> Linear(D_S, S), shared across channels.

    It takes the block's ``(B, S, C)`` tokens as they are and mixes along S with batched matmuls
    (``layers.token_linear.mix_tokens``): the paper's ``(MLP(X^T))^T`` without the transposes. Given
    another token ``grid`` than the one it was built for, it resamples its grid-tied weights (fc1's input
    axis, fc2's output axis and bias) to that grid; see ``layers.resample``. ``fc1``/``fc2`` hold the weights
    under the channel MLP's names (so checkpoints load by name) as ``TokenMixingLinear``s: ``nn.Linear``s that are
    never called as Linears, so the fast paths leave them alone.
    """

    def __init__(self, grid: tuple[int, int], hidden: int, drop: float = 0.0, gelu_approximate: str = "none"):
        super().__init__()
        self.grid = tuple(grid)
        self.fc1 = TokenMixingLinear(grid[0] * grid[1], hidden)
        self.act = nn.GELU(approximate=gelu_approximate)
        self.drop1 = Dropout(drop)
        self.fc2 = TokenMixingLinear(hidden, grid[0] * grid[1])
        self.drop2 = Dropout(drop)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:  # x: (B, S, C)
        w1, w2, b2 = self.fc1.weight, self.fc2.weight, self.fc2.bias
        if grid is not None and tuple(grid) != self.grid:
            w1 = resample_grid_axis(w1, 1, self.grid, grid, summed=True)
            w2 = resample_grid_axis(w2, 0, self.grid, grid)
            b2 = resample_grid_axis(b2, 0, self.grid, grid)
        x = self.drop1(self.act(mix_tokens(x, w1, self.fc1.bias)))  # (B, D_S, C)
        return self.drop2(mix_tokens(x, w2, b2))


class MixerBlock(nn.Module):
    """x += TokenMLP(LN(x)^T)^T ; x += ChannelMLP(LN(x)) (the token MLP takes (B, S, C) as it is)."""

    def __init__(
        self,
        dim: int,
        grid: tuple[int, int],
        tokens_mlp_dim: int,
        channels_mlp_dim: int,
        norm_eps: float = 1e-6,
        gelu_approximate: str = "none",
        drop: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp_tokens = TokenMlp(grid, tokens_mlp_dim, drop=drop, gelu_approximate=gelu_approximate)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp_channels = Mlp(dim, channels_mlp_dim, drop=drop, gelu_approximate=gelu_approximate)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:  # x: (B, S, C)
        x = x + self.drop_path(self.mlp_tokens(self.norm1(x), grid))
        return x + self.drop_path(self.mlp_channels(self.norm2(x)))


class MlpMixer(PatchTokenModel):
    """MLP-Mixer with the paper's hyper-parameter names (hidden size C = ``embed_dim``, D_S, D_C)."""

    def __init__(
        self,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        patch_size: int = 16,
        num_blocks: int = 8,
        embed_dim: int = 512,
        tokens_mlp_dim: int = 256,
        channels_mlp_dim: int = 2048,
        norm_eps: float = 1e-6,
        gelu_approximate: str = "none",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
    ):
        super().__init__()
        self.init_stem(num_classes, img_size, in_chans, patch_size, embed_dim, drop_rate, dynamic_img_size)
        dpr = drop_path_rates(drop_path_rate, num_blocks)
        self.blocks = nn.Sequential(
            *[
                MixerBlock(
                    embed_dim,
                    self.grid_size,
                    tokens_mlp_dim,
                    channels_mlp_dim,
                    norm_eps,
                    gelu_approximate,
                    drop_rate,
                    dpr[i],
                )  # fmt: skip
                for i in range(num_blocks)
            ]
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        self.finish_init()
        self._init_weights()

    def _init_weights(self) -> None:
        # Flax defaults: lecun_normal kernels and zero biases everywhere, including the stem conv.
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                lecun_normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        if isinstance(self.head, nn.Linear):
            self.init_head(self.head)

    def init_head(self, head: nn.Linear) -> None:
        nn.init.zeros_(head.weight)  # the official head kernel_init is zeros
        nn.init.zeros_(head.bias)


_MIXER_SRC = "Tolstikhin et al. 2021, Table 1 (params w/o head) and Table 3"


_published = partial(Published, params_exact=True, source=_MIXER_SRC)
_JFT = "JFT-300M {} ep, fine-tuned at 224"
_IN1K = "ImageNet-1k from scratch, 300 ep"
_NPZ = "https://storage.googleapis.com/mixer_models"  # public HTTP view of gs://mixer_models


def _arch(patch: int, dim: int, blocks: int) -> dict:
    """The paper's Table 1 shape: token MLP D_S = C / 2, channel MLP D_C = 4C."""
    return dict(patch_size=patch, embed_dim=dim, num_blocks=blocks, tokens_mlp_dim=dim // 2, channels_mlp_dim=4 * dim)


def _npz(size: str, top1_in1k: float | None) -> tuple[WeightFile, ...]:
    """The Flax Mixer npz files: ImageNet-1k from scratch (paper Table 3) and ImageNet-21k pre-training."""
    return (
        WeightFile(f"{_NPZ}/imagenet1k/Mixer-{size}.npz", f"Mixer-{size}_imagenet1k.npz", "flax_mixer",
                   tag="in1k", top1=top1_in1k),
        WeightFile(f"{_NPZ}/imagenet21k/Mixer-{size}.npz", f"Mixer-{size}_imagenet21k.npz", "flax_mixer",
                   tag="in21k", num_classes=21843),
    )  # fmt: skip


_VARIANTS = {
    "mixer_s32_224": dict(
        arch=_arch(patch=32, dim=512, blocks=8),
        published=_published(params=19_104_624, official_macs=1.00, top1=68.70, regime=_JFT.format(5)),
    ),
    "mixer_s16_224": dict(
        arch=_arch(patch=16, dim=512, blocks=8),
        published=_published(params=18_528_264, official_macs=3.79, top1=73.83, regime=_JFT.format(5)),
    ),
    "mixer_b32_224": dict(
        arch=_arch(patch=32, dim=768, blocks=12),
        published=_published(params=60_293_428, official_macs=3.24, top1=75.53, regime=_JFT.format(7)),
    ),
    "mixer_b16_224": dict(
        arch=_arch(patch=16, dim=768, blocks=12),
        published=_published(params=59_880_472, official_macs=12.62, top1=76.44, regime=_IN1K),
        weights=_npz("B_16", 76.44),
    ),
    "mixer_l32_224": dict(
        arch=_arch(patch=32, dim=1024, blocks=24),
        published=_published(params=206_939_264, official_macs=11.27, top1=80.67, regime=_JFT.format(7)),
    ),
    "mixer_l16_224": dict(
        arch=_arch(patch=16, dim=1024, blocks=24),
        published=_published(params=208_196_168, official_macs=44.60, top1=71.76, regime=_IN1K),
        weights=_npz("L_16", 71.76),
    ),
    "mixer_h14_224": dict(
        arch=_arch(patch=14, dim=1280, blocks=32),
        published=_published(params=432_350_952, official_macs=121.1, top1=86.32, regime=_JFT.format(14)),
    ),
}
_TINY = dict(embed_dim=32, num_blocks=2, tokens_mlp_dim=16, channels_mlp_dim=64, img_size=32, patch_size=8)
_IMAGENET_CFG = PretrainedCfg(mean=INCEPTION_MEAN, std=INCEPTION_STD, crop_pct=0.875)
register_variants(MlpMixer, _VARIANTS, family="mixer", pretrained_cfg=_IMAGENET_CFG, tiny=_TINY)

# Small Mixers for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4, C=128, 4 blocks (~0.56 M, ~29 M
# MACs at 28x28). Every family's small variant costs about 30 M MACs: their Fashion-MNIST results compare at equal
# compute.
_SMALL = dict(patch_size=4, embed_dim=128, num_blocks=4, tokens_mlp_dim=64, channels_mlp_dim=512)
register_small_variants("mixer_s4", MlpMixer, _SMALL, family="mixer")

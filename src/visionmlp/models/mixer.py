"""MLP-Mixer (Tolstikhin et al. 2021, arXiv 2105.01601).

Each block mixes tokens with an MLP shared across channels, then channels with an MLP shared across
tokens, both pre-LayerNorm with residuals; the head mean-pools the tokens. Built as the official Flax
code (``vit_jax/models_mixer.py``): LeCun-normal Dense/stem init, zero head, LayerNorm eps 1e-6.
``gelu_approximate="tanh"`` reproduces Flax's default GELU for its released weights; the default exact
GELU matches the PyTorch (timm) weights. Submodule names follow timm so its state dicts load as they are.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import DropPath, Mlp, lecun_normal_
from ..layers.drop import drop_path_rates
from ..layers.resample import resample_grid_axis
from ..layers.token_linear import mix_tokens
from ._isotropic import PatchTokenModel
from ._registry import (
    INCEPTION_MEAN,
    INCEPTION_STD,
    PretrainedCfg,
    Published,
    register_small_variants,
    register_variant,
)


class TokenMlp(Mlp):
    """The token-mixing MLP: Linear(S, D_S) -> GELU -> Linear(D_S, S), shared across channels.

    It takes the block's ``(B, S, C)`` tokens as they are and mixes along S with batched matmuls
    (``layers.token_linear.mix_tokens``): the paper's ``(MLP(X^T))^T`` without the transposes. Given
    another token ``grid`` than the one it was built for, it resamples its grid-tied weights (fc1's input
    axis, fc2's output axis and bias) to that grid; see ``layers.resample``.
    """

    def __init__(self, grid: tuple[int, int], hidden: int, drop: float = 0.0, gelu_approximate: str = "none"):
        super().__init__(grid[0] * grid[1], hidden, drop=drop, gelu_approximate=gelu_approximate)
        self.grid = tuple(grid)

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


def _mixer(patch: int, dim: int, blocks: int, params: int, macs: float, top1: float, regime: str):
    return (
        dict(patch_size=patch, embed_dim=dim, num_blocks=blocks, tokens_mlp_dim=dim // 2, channels_mlp_dim=4 * dim),
        Published(params=params, params_exact=True, official_macs=macs, top1=top1, regime=regime, source=_MIXER_SRC),
    )


_VARIANTS = {
    "mixer_s32_224": _mixer(32, 512, 8, 19_104_624, 1.00, 68.70, "JFT-300M 5 ep, fine-tuned at 224"),
    "mixer_s16_224": _mixer(16, 512, 8, 18_528_264, 3.79, 73.83, "JFT-300M 5 ep, fine-tuned at 224"),
    "mixer_b32_224": _mixer(32, 768, 12, 60_293_428, 3.24, 75.53, "JFT-300M 7 ep, fine-tuned at 224"),
    "mixer_b16_224": _mixer(16, 768, 12, 59_880_472, 12.62, 76.44, "ImageNet-1k from scratch, 300 ep"),
    "mixer_l32_224": _mixer(32, 1024, 24, 206_939_264, 11.27, 80.67, "JFT-300M 7 ep, fine-tuned at 224"),
    "mixer_l16_224": _mixer(16, 1024, 24, 208_196_168, 44.60, 71.76, "ImageNet-1k from scratch, 300 ep"),
    "mixer_h14_224": _mixer(14, 1280, 32, 432_350_952, 121.1, 86.32, "JFT-300M 14 ep, fine-tuned at 224"),
}
_TINY = dict(embed_dim=32, num_blocks=2, tokens_mlp_dim=16, channels_mlp_dim=64, img_size=32, patch_size=8)
_IMAGENET_CFG = PretrainedCfg(mean=INCEPTION_MEAN, std=INCEPTION_STD, crop_pct=0.875)

for _name, (_arch, _published) in _VARIANTS.items():
    register_variant(
        _name, MlpMixer, _arch, family="mixer", pretrained_cfg=_IMAGENET_CFG, published=_published, tiny=_TINY
    )

# Small Mixers for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4, C=128, 4 blocks (~0.56 M, ~29 M
# MACs at 28x28). Every family's small variant costs about 30 M MACs: their Fashion-MNIST results compare at equal
# compute.
_SMALL = dict(patch_size=4, embed_dim=128, num_blocks=4, tokens_mlp_dim=64, channels_mlp_dim=512)
register_small_variants("mixer_s4", MlpMixer, _SMALL, family="mixer")

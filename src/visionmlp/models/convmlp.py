"""ConvMLP (Li et al. 2021, arXiv 2109.04454): a hierarchical MLP that borrows convolutions for locality.

A convolutional tokenizer (stride 4) and a short stage of residual conv bottlenecks (stride 8) feed
Conv-MLP stages. Each Conv-MLP block is a channel MLP, a depth-wise 3x3 convolution that *replaces* the
features (no skip), and a second channel MLP. Because no weight is tied to the token grid, any input size
works. Built as the official code (SHI-Labs/Convolutional-MLPs ``src/convmlp.py``): channels-last maps
inside the Conv-MLP stages, PyTorch LayerNorm (eps 1e-5), stochastic depth ramping 0 -> 0.1 within each
stage, LayerNorm -> token mean -> Linear head. Submodule names are words; ``convert.convmlp`` maps the
official ``Sequential`` indices onto them.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..layers import DropPath, Mlp
from ..layers._helpers import to_2tuple
from ..layers.conv_nhwc import ConvNHWC
from ..layers.drop import Dropout, drop_path_rates
from ._base import VisionModel
from ._features import FeatureInfo
from ._fuse import fold_conv_bn_pairs
from ._registry import (
    PretrainedCfg,
    Published,
    WeightFile,
    register_small_variants,
    register_variants,
)


class ConvTokenizer(nn.Module):
    """Three 3x3 conv+BN+ReLU (the first with stride 2) then a 3x3 stride-2 max-pool: image -> stride-4 map.

    After the first conv the map is made channels-last in memory: every later convolution then runs on
    oneDNN's channels-last kernels (faster, most of all in bfloat16), and the conv stage's output is
    already laid out as the ``(B, H, W, C)`` the MLP stages read. The first conv's input is left alone:
    with one or three channels the layouts barely differ.
    """

    def __init__(self, in_chans: int, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, channels // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels // 2)
        self.conv2 = nn.Conv2d(channels // 2, channels // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels // 2)
        self.conv3 = nn.Conv2d(channels // 2, channels, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn1(self.conv1(x))).contiguous(memory_format=torch.channels_last)
        x = self.act(self.bn2(self.conv2(x)))
        return self.pool(self.act(self.bn3(self.conv3(x))))

    def fuse(self) -> nn.Module:
        """Each BatchNorm folded into the convolution before it (inference only)."""
        return fold_conv_bn_pairs(self, 3)


class ConvBottleneck(nn.Module):
    """x + ReLU(BN(1x1 -> hidden)) -> ReLU(BN(3x3)) -> ReLU(BN(1x1 -> dim)); the ReLU ends the branch."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.conv1 = nn.Conv2d(dim, hidden, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(hidden)
        self.conv3 = nn.Conv2d(hidden, dim, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(dim)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        y = self.act(self.bn2(self.conv2(y)))
        return x + self.act(self.bn3(self.conv3(y)))

    def fuse(self) -> nn.Module:
        """Each BatchNorm folded into the convolution before it (inference only)."""
        return fold_conv_bn_pairs(self, 3)


class ConvMlpBlock(nn.Module):
    """x += MLP1(LN(x)) ; x = DWConv3x3(LN(x)) (no residual) ; x += MLP2(LN(x)), on (B, H, W, C)."""

    def __init__(self, dim: int, mlp_ratio: float, drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.mlp1 = Mlp(dim, hidden, drop=drop)
        self.dw_norm = nn.LayerNorm(dim)
        self.dwconv = ConvNHWC(dim, dim, 3, padding=1, groups=dim, bias=False)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp2 = Mlp(dim, hidden, drop=drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.mlp1(self.norm1(x)))
        x = self.dwconv(self.dw_norm(x))
        return x + self.drop_path(self.mlp2(self.norm2(x)))


class ConvStage(nn.Module):
    """``n_conv_blocks`` residual bottlenecks at stride 4, then a 3x3 stride-2 conv (with bias) to ``dims[0]``."""

    def __init__(self, depth: int, dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.blocks = nn.Sequential(*[ConvBottleneck(dim, hidden) for _ in range(depth)])
        self.downsample = nn.Conv2d(dim, out_dim, 3, stride=2, padding=1)


class ConvMlpStage(nn.Module):
    """Conv-MLP blocks at one width, then (except in the last stage) a 3x3 stride-2 conv to the next width."""

    def __init__(self, depth: int, dim: int, out_dim: int | None, mlp_ratio: float, drop: float, drop_path_rate: float):
        super().__init__()
        dpr = drop_path_rates(drop_path_rate, depth)  # restarts at 0 in every stage, as the official code
        self.blocks = nn.Sequential(*[ConvMlpBlock(dim, mlp_ratio, drop, dpr[i]) for i in range(depth)])
        self.downsample = ConvNHWC(dim, out_dim, 3, stride=2, padding=1) if out_dim else nn.Identity()


class ConvMLP(VisionModel):
    """ConvMLP with the official hyper-parameter names (``blocks``, ``dims``, ``mlp_ratios``, ``channels``,
    ``n_conv_blocks``). ``forward_features`` returns the normalised channels-last map ``(B, H/32, W/32, C)``.

    ``drop_path_rate`` is the stochastic-depth rate each Conv-MLP stage ramps up to (the official code
    hard-codes 0.1); ``drop_rate`` is dropout inside the MLPs and before the classifier (0 officially).
    """

    def __init__(
        self,
        blocks=(2, 4, 2),
        dims=(128, 256, 512),
        mlp_ratios=(2, 2, 2),
        channels: int = 64,
        n_conv_blocks: int = 2,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
    ):
        super().__init__()
        if not len(blocks) == len(dims) == len(mlp_ratios) >= 1:
            raise ValueError(
                f"blocks, dims and mlp_ratios need one entry per stage, got {len(blocks)}, {len(dims)} "
                f"and {len(mlp_ratios)}"
            )
        self.num_classes = num_classes
        self.num_features = dims[-1]
        self.in_chans = in_chans
        self.img_size = to_2tuple(img_size)
        self.fixed_img_size = None  # no weight depends on the token grid
        self.tokenizer = ConvTokenizer(in_chans, channels)
        self.conv_stage = ConvStage(n_conv_blocks, channels, dims[0], dims[0])
        self.stages = nn.ModuleList(
            ConvMlpStage(
                blocks[i],
                dims[i],
                dims[i + 1] if i + 1 < len(dims) else None,
                mlp_ratios[i],
                drop_rate,
                drop_path_rate,
            )
            for i in range(len(blocks))
        )
        self.norm = nn.LayerNorm(dims[-1])
        self.head_drop = Dropout(drop_rate)

        # One map per module output: tokenizer /4, conv stage /8, then each stage after its downsample.
        self.feature_info = FeatureInfo(
            [
                {"num_chs": channels, "reduction": 4, "module": "tokenizer"},
                {"num_chs": dims[0], "reduction": 8, "module": "conv_stage"},
            ]
        )
        for i in range(len(dims)):
            last = i + 1 == len(dims)
            self.feature_info.append(
                {
                    "num_chs": dims[i if last else i + 1],
                    "reduction": 8 * 2 ** (i if last else i + 1),
                    "module": f"stages.{i}",
                }
            )
        # The official detection backbone: the deepest map at each stride (4/8/16/32 for three stages);
        # with three stages that skips stages.1, whose /32 output the last stage refines.
        reductions = self.feature_info.reduction()
        self.default_out_indices = tuple(
            i for i, r in enumerate(reductions) if i + 1 == len(reductions) or reductions[i + 1] != r
        )
        self.head = self.build_head(num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # Official init. Conv biases keep PyTorch's default; trunc_normal_ keeps torch's absolute +-2 bounds
        # (as the official code calls it), which at std 0.02 is practically an untruncated normal.
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def init_head(self, head: nn.Linear) -> None:
        self._init_weights(head)

    def _run_stage(self, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return stage.downsample(self.run_blocks(stage.blocks, x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        x = self._run_stage(self.conv_stage, self.tokenizer(x))
        x = x.permute(0, 2, 3, 1).contiguous()  # (B, C, H, W) -> (B, H, W, C): channels-last already, no copy
        for stage in self.stages:
            x = self._run_stage(stage, x)
        return self.norm(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_drop(x.mean(dim=(1, 2)))

    def forward_intermediates(self, x, indices):
        x = self.prepare_input(x)
        out = []
        x = self.tokenizer(x)
        if 0 in indices:
            out.append(x)
        x = self._run_stage(self.conv_stage, x)
        if 1 in indices:
            out.append(x)
        x = x.permute(0, 2, 3, 1).contiguous()
        for i, stage in enumerate(self.stages[: max(indices[-1] - 1, 0)]):
            x = self._run_stage(stage, x)
            if i + 2 in indices:
                out.append(x.permute(0, 3, 1, 2).contiguous())
        return out


_CONVMLP_SRC = "SHI-Labs/Convolutional-MLPs README (ImageNet-1k, 224x224; MACs = their GMACs)"
_REGIME = "ImageNet-1k from scratch, 300 ep"
_IMAGENET_CFG = PretrainedCfg(crop_pct=0.9, fixed_input_size=False)
_TINY = dict(blocks=(1, 2, 1), dims=(16, 24, 32), mlp_ratios=(2, 2, 2), channels=8, n_conv_blocks=1, img_size=32)

_published = partial(Published, params_exact=True, regime=_REGIME, source=_CONVMLP_SRC)
_CHECKPOINTS = "http://ix.cs.uoregon.edu/~alih/conv-mlp/checkpoints"


def _checkpoint(size: str, top1: float | None) -> tuple[WeightFile, ...]:
    name = f"convmlp_{size}_imagenet.pth"
    return (WeightFile(f"{_CHECKPOINTS}/{name}", name, "convmlp", tag="in1k", top1=top1),)


_VARIANTS = {
    "convmlp_s": dict(
        arch=dict(blocks=(2, 4, 2), dims=(128, 256, 512), mlp_ratios=(2, 2, 2), channels=64, n_conv_blocks=2),
        published=_published(params=9_022_920, macs=2.4, official_macs=2.40, top1=76.8),
        weights=_checkpoint("s", 76.8),
    ),
    "convmlp_m": dict(
        arch=dict(blocks=(3, 6, 3), dims=(128, 256, 512), mlp_ratios=(3, 3, 3), channels=64, n_conv_blocks=3),
        published=_published(params=17_410_504, macs=3.9, official_macs=3.95, top1=79.0),
        weights=_checkpoint("m", 79.0),
    ),
    "convmlp_l": dict(
        arch=dict(blocks=(4, 8, 3), dims=(192, 384, 768), mlp_ratios=(3, 3, 3), channels=96, n_conv_blocks=3),
        published=_published(params=42_728_440, macs=9.9, official_macs=9.90, top1=80.2),
        weights=_checkpoint("l", None),
    ),
}
register_variants(ConvMLP, _VARIANTS, family="convmlp", pretrained_cfg=_IMAGENET_CFG, tiny=_TINY)

# Small ConvMLPs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): the stride-4 tokenizer, then
# 28 -> 7 (tokens) -> 4 -> 2 -> 1 through the stages; convmlp_s's layout at half its widths.
_SMALL = dict(blocks=(2, 2, 2), dims=(64, 128, 256), mlp_ratios=(2, 2, 2), channels=32, n_conv_blocks=2)
register_small_variants("convmlp_s4", ConvMLP, _SMALL, family="convmlp", any_size=True)

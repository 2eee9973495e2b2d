"""CycleMLP (Chen et al. 2021, arXiv 2107.10224; ICLR 2022).

A four-stage pyramid of MLP blocks whose token mixer is Cycle FC: a 1x1 linear layer whose input
channel c is read at a fixed, channel-dependent offset that cycles through a 1 x 3 (or 3 x 1) window,
so each output sees a small spatial neighbourhood at the cost of a channel FC and works at any input
size. Three branches (Cycle FC along W, along H, plain channel FC) are fused with ViP's re-weighting.
Built as the official code (``ShoufaChen/CycleMLP`` ``cycle_mlp.py``), where Cycle FC is torchvision's
``deform_conv2d`` with a constant offset buffer: here it is the same shift done with ``gather``
(``layers.shift``), which gives identical outputs and needs no torchvision. State-dict differences from
the official code: ``network.{2i}`` -> ``stages.{i}.blocks``, ``network.{2i+1}`` ->
``stages.{i+1}.downsample``, ``patch_embed`` -> ``stem``, ``attn`` -> ``mixer``, and the official
``offset`` buffers are dropped (they are a function of the layer's shape). The block and the re-weighting
are ViP's, which the official code copied (``_permutator.py``).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..layers._helpers import to_2tuple
from ..layers.conv_nhwc import ConvNHWC, Downsample
from ..layers.drop import Dropout, drop_path_rates
from ..layers.shift import ChannelShift, cycle_offsets
from ._channels_last import ChannelsLastStages
from ._features import FeatureInfo
from ._permutator import BranchReweightMixer, PermutatorBlock
from ._registry import (
    PretrainedCfg,
    Published,
    WeightFile,
    register_small_variants,
    register_variants,
)


class CycleFC(ConvNHWC):
    """Cycle FC on a channels-last map: shift channel c by its cycle offset along the ``kernel_size`` axis
    (the official fixed deform_conv offsets), then a 1x1 convolution, whose ``(out, in, 1, 1)`` weight loads
    from the official files unchanged (and packs, being pointwise, as the Linear it is)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int]):
        super().__init__(in_channels, out_channels, 1)
        self.cycle_size = tuple(kernel_size)
        self.shift = ChannelShift(cycle_offsets(in_channels, self.cycle_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, H, W, C)
        return super().forward(self.shift(x))

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.cycle_size}"


class CycleMixer(BranchReweightMixer):
    """The token mixer: CycleFC 1x3 (the official ``sfc_h``, which moves along W), CycleFC 3x1 (``sfc_w``,
    along H) and a channel FC, fused per channel by ViP's split-attention re-weighting, then projected."""

    def __init__(self, dim: int, qkv_bias: bool = False):
        super().__init__(dim, qkv_bias)
        self.sfc_h = CycleFC(dim, dim, (1, 3))
        self.sfc_w = CycleFC(dim, dim, (3, 1))

    def mix_height(self, x: torch.Tensor) -> torch.Tensor:
        return self.sfc_h(x)  # the official "h" branch (reweighted first), whatever axis it moves along

    def mix_width(self, x: torch.Tensor) -> torch.Tensor:
        return self.sfc_w(x)


class CycleStage(nn.Module):
    def __init__(
        self, dim: int, depth: int, mlp_ratio: float, dpr: list[float], downsample: nn.Module, qkv_bias: bool,
        skip_lam: float,
    ):  # fmt: skip
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(
            *[PermutatorBlock(dim, CycleMixer(dim, qkv_bias), mlp_ratio, dpr[j], skip_lam) for j in range(depth)]
        )


class CycleMLP(ChannelsLastStages):
    """CycleMLP with the official hyper-parameter names (``layers``, ``embed_dims``, ``transitions``,
    ``mlp_ratios``, ``skip_lam``, ``qkv_bias``).

    The stem is an overlapping Conv 7x7 stride 4 (padding 2); a stage after a ``transitions[i - 1]`` starts
    with a Conv 3x3 stride 2 (all of B1-B5 have them), so stage i has stride ``stem_stride * 2**i`` there.
    ``stem_stride``/``stem_kernel`` exist for the small variants. ``forward_features`` returns the normalised
    channels-last map (B, H', W', C).
    """

    default_out_indices = (0, 1, 2, 3)
    trunc_normal_types = (nn.Linear, CycleFC)

    def __init__(
        self,
        layers=(2, 2, 4, 2),
        embed_dims=(64, 128, 320, 512),
        mlp_ratios=(4, 4, 4, 4),
        transitions=(True, True, True, True),
        skip_lam: float = 1.0,
        qkv_bias: bool = False,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        stem_kernel: int = 7,
        stem_stride: int = 4,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        if not len(layers) == len(embed_dims) == len(mlp_ratios) >= 1 or len(transitions) < len(layers) - 1:
            raise ValueError(
                f"layers, embed_dims and mlp_ratios need one entry per stage and transitions one per stage "
                f"but the last, got {len(layers)}, {len(embed_dims)}, {len(mlp_ratios)} and {len(transitions)}"
            )
        for i in range(len(layers) - 1):
            if not transitions[i] and embed_dims[i] != embed_dims[i + 1]:
                raise ValueError(
                    f"stage {i + 1} changes the width ({embed_dims[i]} -> {embed_dims[i + 1]}) without a transition; "
                    "CycleMLP widens only in its stride-2 transitions (the official Downsample asserts it), so set "
                    f"transitions[{i}]=True or keep the width"
                )
        self.num_classes = num_classes
        self.num_features = embed_dims[-1]
        self.in_chans = in_chans
        self.img_size = to_2tuple(img_size)
        self.fixed_img_size = None  # Cycle FC has no weight tied to the grid
        pad = (stem_kernel - stem_stride + 1) // 2  # 2 for the official 7x7 stride 4
        self.stem = nn.Conv2d(in_chans, embed_dims[0], kernel_size=stem_kernel, stride=stem_stride, padding=pad)
        dpr = drop_path_rates(drop_path_rate, sum(layers))
        self.stages = nn.ModuleList()
        reductions = []
        for i, depth in enumerate(layers):
            start = sum(layers[:i])
            transition = i > 0 and transitions[i - 1]
            downsample = (
                Downsample(embed_dims[i - 1], embed_dims[i], kernel_size=3, stride=2, padding=1)
                if transition
                else nn.Identity()
            )
            reductions.append(reductions[-1] * (2 if transition else 1) if i else stem_stride)
            self.stages.append(
                CycleStage(
                    embed_dims[i], depth, mlp_ratios[i], dpr[start : start + depth], downsample, qkv_bias, skip_lam
                )
            )
        self.norm = nn.LayerNorm(embed_dims[-1])
        self.head_drop = Dropout(drop_rate)
        self.feature_info = FeatureInfo(
            {"num_chs": d, "reduction": r, "module": f"stages.{i}"}
            for i, (d, r) in enumerate(zip(embed_dims, reductions, strict=True))
        )
        self.default_out_indices = tuple(range(len(layers)))
        self.head = self.build_head(num_classes)
        self.apply(self._init_weights)


_SRC = "ShoufaChen/CycleMLP README (ImageNet-1k, 224x224); params/MACs as published (rounded)"
_REGIME = "ImageNet-1k from scratch, 300 ep (DeiT recipe)"
_TINY = dict(layers=(1, 1, 1, 1), embed_dims=(8, 16, 24, 32), mlp_ratios=(2, 2, 2, 2), img_size=64)


_published = partial(Published, regime=_REGIME, source=_SRC)
_RELEASE = "https://github.com/ShoufaChen/CycleMLP/releases/download/v0.1"
_WIDE, _WIDER = (64, 128, 320, 512), (96, 192, 384, 768)


def _release(size: str, top1: float) -> tuple[WeightFile, ...]:
    """The GitHub release files (training checkpoints: the weights under ``model``)."""
    name = f"CycleMLP_{size}.pth"
    return (WeightFile(f"{_RELEASE}/{name}", name, "cyclemlp", tag="in1k", top1=top1),)


# crop_pct from the official default_cfgs: B1/B2 'cycle_S' 0.9, B3 'cycle_M' 0.9, B4/B5 'cycle_L' 0.875.
_VARIANTS = {
    "cyclemlp_b1": dict(
        arch=dict(layers=(2, 2, 4, 2), embed_dims=_WIDE, mlp_ratios=(4, 4, 4, 4)),
        published=_published(params=15_160_000, macs=2.1, top1=78.9),
        weights=_release("B1", 78.9),
    ),
    "cyclemlp_b2": dict(
        arch=dict(layers=(2, 3, 10, 3), embed_dims=_WIDE, mlp_ratios=(4, 4, 4, 4)),
        published=_published(params=26_800_000, macs=3.9, top1=81.6),
        weights=_release("B2", 81.6),
    ),
    "cyclemlp_b3": dict(
        arch=dict(layers=(3, 4, 18, 3), embed_dims=_WIDE, mlp_ratios=(8, 8, 4, 4)),
        published=_published(params=38_390_000, macs=6.9, top1=82.4),
        weights=_release("B3", 82.4),
    ),
    "cyclemlp_b4": dict(
        arch=dict(layers=(3, 8, 27, 3), embed_dims=_WIDE, mlp_ratios=(8, 8, 4, 4)),
        published=_published(params=51_800_000, macs=10.1, top1=83.0),
        weights=_release("B4", 83.0),
        cfg=dict(crop_pct=0.875),
    ),
    "cyclemlp_b5": dict(
        arch=dict(layers=(3, 4, 24, 3), embed_dims=_WIDER, mlp_ratios=(4, 4, 4, 4)),
        published=_published(params=75_750_000, macs=12.3, top1=83.2),
        weights=_release("B5", 83.2),
        cfg=dict(crop_pct=0.875),
    ),
}
register_variants(
    CycleMLP,
    _VARIANTS,
    family="cyclemlp",
    pretrained_cfg=PretrainedCfg(crop_pct=0.9, fixed_input_size=False),
    tiny=_TINY,
)

# Small CycleMLPs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): a Conv 3x3 stride-2 stem, so
# the four stages see 14 -> 7 -> 4 -> 2 (strides 2/4/8/16); B1's layout at widths 32..192.
_SMALL = dict(layers=(2, 2, 4, 2), embed_dims=(32, 64, 128, 192), mlp_ratios=(4, 4, 4, 4), stem_kernel=3, stem_stride=2)
# The contract tests shrink the widths but keep the small variants' 28x28 / 32x32 inputs.
_SMALL_TINY = {k: v for k, v in _TINY.items() if k != "img_size"}
register_small_variants("cyclemlp_s4", CycleMLP, _SMALL, family="cyclemlp", tiny=_SMALL_TINY, any_size=True)

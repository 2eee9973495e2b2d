"""Semantic FPN (Kirillov et al. 2019, arXiv 1901.02446, the segmentation setting of the ConvMLP paper): a
per-pixel classifier over any ``features_only`` backbone.

The backbone's maps go through an :class:`~visionmlp.dense.fpn.FPN`; each FPN level is brought to the finest
level's resolution by a stack of (3x3 conv, GroupNorm, ReLU, 2x upsample) stages, one per halving it is away from
it (none for the finest), the branches are summed, and a 1x1 conv gives class scores at the finest stride, which
are upsampled to the input. Levels are matched by their actual sizes, not by factors of two, so odd and
non-square inputs and isotropic backbones (every level at one stride: no upsampling stage) all work.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .fpn import FeaturePyramid


def _stage(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.GroupNorm(min(32, cout), cout), nn.ReLU())


class SemanticFPN(nn.Module):
    """``SemanticFPN(backbone, num_classes)(images) -> logits (B, num_classes, H, W)`` at the input's size."""

    def __init__(self, backbone: nn.Module, num_classes: int, fpn_channels: int = 256, channels: int = 128):
        super().__init__()
        self.pyramid = FeaturePyramid(backbone, fpn_channels)
        self.num_classes = num_classes
        reductions = self.pyramid.feature_info.reduction()
        finest = min(reductions)
        self.branches = nn.ModuleList()
        for reduction in reductions:
            halvings = max(0, round(math.log2(reduction / finest)))
            stages = [_stage(fpn_channels if k == 0 else channels, channels) for k in range(max(1, halvings))]
            self.branches.append(nn.ModuleList(stages))
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = self.pyramid(x)
        size = levels[0].shape[-2:]
        merged = None
        for level, stages in zip(levels, self.branches, strict=True):
            y = level
            for k, stage in enumerate(stages):
                y = stage(y)
                if k < len(stages) - 1 or y.shape[-2:] != size:  # 2x per halving, the last straight to the size
                    target = size if k == len(stages) - 1 else (y.shape[-2] * 2, y.shape[-1] * 2)
                    y = F.interpolate(y, size=target, mode="bilinear", align_corners=False)
            merged = y if merged is None else merged + y
        return F.interpolate(self.classifier(merged), size=x.shape[-2:], mode="bilinear", align_corners=False)

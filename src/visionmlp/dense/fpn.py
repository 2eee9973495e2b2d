"""Feature Pyramid Network neck (Lin et al. 2017, arXiv 1612.03144).

Turns a backbone's maps (finest first) into maps of one width: a 1x1 lateral conv per level, a
top-down pathway that upsamples the coarser merged map and adds it to the lateral, and a 3x3 conv on
each sum to smooth the upsampling. The upsampling goes to the lateral's exact size rather than by a
factor of 2, so odd sides (a 100x76 image gives 25x19, 13x10, 7x5, 4x3 on a ResNet), non-square
inputs and isotropic backbones (every level at one stride) all work.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..models._features import FeatureInfo


class FPN(nn.Module):
    """``FPN(in_channels)(maps) -> maps``: one ``out_channels`` map per input map, at its size."""

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256):
        super().__init__()
        if not in_channels:
            raise ValueError("FPN needs at least one input level (in_channels is empty)")
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.lateral_convs = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in self.in_channels)
        self.output_convs = nn.ModuleList(nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in self.in_channels)
        # Detectron's FPN init (torchvision's too): kaiming_uniform with a=1, zero bias.
        for conv in self.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.kaiming_uniform_(conv.weight, a=1)
                nn.init.zeros_(conv.bias)

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        got = [f.shape[1] for f in features]
        if got != self.in_channels:
            raise ValueError(
                f"FPN was built for levels with {self.in_channels} channels, got {got}; pass the backbone's "
                f"maps in order (finest first) with in_channels=backbone.feature_info.channels()"
            )
        merged = self.lateral_convs[-1](features[-1])
        outs = [self.output_convs[-1](merged)]
        for i in range(len(features) - 2, -1, -1):
            lateral = self.lateral_convs[i](features[i])
            merged = lateral + F.interpolate(merged, size=lateral.shape[-2:], mode="nearest")
            outs.insert(0, self.output_convs[i](merged))
        return outs


class FeaturePyramid(nn.Module):
    """A ``features_only`` backbone followed by an :class:`FPN` over all the maps it returns.

    ``feature_info`` describes the outputs (``out_channels`` wide, the backbone's reductions), so the
    result plugs into whatever consumes a backbone.
    """

    def __init__(self, backbone: nn.Module, out_channels: int = 256):
        super().__init__()
        if getattr(backbone, "feature_indices", None) is None:
            raise ValueError(
                "FeaturePyramid needs a backbone that returns feature maps; create it with "
                "visionmlp.create_model(name, features_only=True, out_indices=...)"
            )
        self.backbone = backbone
        self.fpn = FPN(backbone.feature_info.channels(), out_channels)
        self.feature_info = FeatureInfo(
            {"num_chs": out_channels, "reduction": r, "module": f"fpn.output_convs.{i}"}
            for i, r in enumerate(backbone.feature_info.reduction())
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.fpn(self.backbone(x))

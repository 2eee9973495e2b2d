"""The skeleton of the hierarchical families that run channels-last (CycleMLP, S2-MLPv2).

Both embed with a conv stem, permute once to ``(B, H, W, C)`` (their token mixers and MLPs act on the
last axis), run stages that each start with an optional downsample, normalise, and mean-pool; only
their blocks and stem differ. The features are the stage outputs, returned NCHW.
"""

from __future__ import annotations

import torch
from torch import nn

from ._base import VisionModel


class ChannelsLastStages(VisionModel):
    """Subclasses set ``stem`` (NCHW conv), ``stages`` (modules with ``downsample`` and ``blocks``), ``norm``
    and ``head_drop``; ``trunc_normal_types`` lists the modules whose weights get trunc_normal(0.02)."""

    trunc_normal_types: tuple[type[nn.Module], ...] = (nn.Linear,)

    def _init_weights(self, module: nn.Module) -> None:
        # The official code bases' init: timm's trunc_normal_(std=.02) (absolute +-2 bounds), zero biases,
        # LayerNorm 1/0; the convolutions keep PyTorch's default.
        if isinstance(module, self.trunc_normal_types):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def init_head(self, head: nn.Linear) -> None:
        self._init_weights(head)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        return self.stem(x).permute(0, 2, 3, 1).contiguous()  # (B, C, H, W) -> (B, H, W, C), copied once

    def _run_stage(self, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return self.run_blocks(stage.blocks, stage.downsample(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self._embed(x)
        for stage in self.stages:
            x = self._run_stage(stage, x)
        return self.norm(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_drop(x.mean(dim=(1, 2)))

    def forward_intermediates(self, x: torch.Tensor, indices) -> list[torch.Tensor]:
        x = self._embed(x)
        out = []
        for i, stage in enumerate(self.stages[: indices[-1] + 1]):
            x = self._run_stage(stage, x)
            if i in indices:
                out.append(x.permute(0, 3, 1, 2).contiguous())
        return out

"""A convolution on channels-last maps, for the families that keep ``(B, H, W, C)`` between their MLPs."""

import torch
from torch import nn


class ConvNHWC(nn.Conv2d):
    """A Conv2d applied to a channels-last map ``(B, H, W, C)``; its weights are a plain Conv2d's, so
    official checkpoints load under the same names."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)

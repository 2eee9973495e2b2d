"""A convolution on channels-last maps, for the families that keep ``(B, H, W, C)`` between their MLPs."""

from __future__ import annotations

import torch
from torch import nn

from .linear import activated_packed_linear
from .packed_linear import Prepackable, pack_weight, usable


class ConvNHWC(Prepackable, nn.Conv2d):
    """A Conv2d applied to a channels-last map ``(B, H, W, C)``; its weights are a plain Conv2d's, so
    official checkpoints load under the same names.

    A pointwise one (1x1, stride 1, no padding, one group) is a Linear over the last dim: :meth:`pack`
    prepacks it as one, so CPU inference runs oneDNN's linear primitive, with the activation a block hands
    over (``packed_linear.absorb_activation``) as a post-op (AS-MLP's GELUs were a quarter of its bfloat16
    time as separate passes). Other convolutions, training and autocast keep the convolution.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self.single_packed()
        if usable(packed, self.weight.flatten(1), x):
            return activated_packed_linear(x, packed, self.bias, self.activation)
        return self.apply_activation(super().forward(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))

    @property
    def pointwise(self) -> bool:
        return (
            self.kernel_size == (1, 1)
            and self.stride == (1, 1)
            and self.padding in ((0, 0), "valid")
            and self.groups == 1
        )

    def pack(self) -> ConvNHWC:
        """Prepack a pointwise convolution's weight as a Linear's (others have nothing to pack)."""
        self._packed = (pack_weight(self.weight.flatten(1)),) if self.pointwise else ()
        return self


class Downsample(nn.Module):
    """A stage transition on a channels-last map: one convolution, named ``proj`` as the official codes name it
    (ViP, DynaMixer and S2-MLPv2: non-overlapping ``k x k`` stride ``k``, stride 1 being a width change only;
    CycleMLP: 3x3 stride 2 padding 1)."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, stride: int, padding: int = 0):
        super().__init__()
        self.proj = ConvNHWC(in_dim, out_dim, kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)

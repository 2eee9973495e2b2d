"""Weight-standardised convolution (Qiao et al. 2019), the conv of BiT's ResNet-v2."""

import torch
import torch.nn.functional as F
from torch import nn


class StdConv2d(nn.Conv2d):
    """A Conv2d whose kernel is standardised per output channel (zero mean, unit variance) at every call.

    With GroupNorm this replaces BatchNorm without depending on the batch, which is what lets BiT train
    and fine-tune at any batch size. ``eps`` is the official PyTorch code's 1e-10 (timm uses 1e-8); the
    stored parameter stays the raw kernel, so official checkpoints load as they are.
    """

    def __init__(self, *args, eps: float = 1e-10, **kwargs):
        super().__init__(*args, **kwargs)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(self.weight, dim=(1, 2, 3), keepdim=True, unbiased=False)
        weight = (self.weight - mean) / torch.sqrt(var + self.eps)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

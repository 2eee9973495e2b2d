"""Weight initialisers that PyTorch lacks or names differently from the official code bases."""

import math

import torch
from torch import nn

# Standard deviation of a unit normal truncated to [-2, 2]; JAX divides by it so that the truncated
# distribution keeps the requested variance.
_TRUNC_STD = 0.87962566103423978


def trunc_normal_(tensor: torch.Tensor, std: float = 0.02) -> torch.Tensor:
    """The DeiT/timm lineage's ``trunc_normal_(std=.02)``: cut at +-2 in absolute value, not +-2 std.

    At std 0.02 that is practically an untruncated normal; it is kept so the official inits read the same.
    """
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2.0, b=2.0)


def lecun_normal_(tensor: torch.Tensor) -> torch.Tensor:
    """Flax's default kernel initialiser: variance 1/fan_in, truncated normal, variance-corrected.

    fan_in follows PyTorch's layout (dim 1 times the receptive field), which is what the Flax kernel's
    input axes become after conversion.
    """
    fan_in = tensor.shape[1] * (tensor[0][0].numel() if tensor.ndim > 2 else 1)
    std = math.sqrt(1.0 / fan_in) / _TRUNC_STD
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2 * std, b=2 * std)

"""Small single-purpose building blocks shared by the model families."""

from .conv_nhwc import ConvNHWC, Downsample
from .drop import Dropout, DropPath
from .init import lecun_normal_, trunc_normal_
from .linear import Linear
from .mlp import Mlp
from .norm import Affine, LayerNorm2d
from .patch import PatchEmbed
from .std_conv import StdConv2d
from .token_linear import TokenLinear

__all__ = [
    "Affine",
    "ConvNHWC",
    "Downsample",
    "DropPath",
    "Dropout",
    "LayerNorm2d",
    "Linear",
    "Mlp",
    "PatchEmbed",
    "StdConv2d",
    "TokenLinear",
    "lecun_normal_",
    "trunc_normal_",
]

"""Small single-purpose building blocks shared by the model families."""

from .drop import DropPath
from .init import lecun_normal_, trunc_normal_
from .mlp import Mlp
from .norm import Affine, LayerNorm2d
from .patch import PatchEmbed
from .std_conv import StdConv2d
from .token_linear import TokenLinear

__all__ = [
    "Affine",
    "DropPath",
    "LayerNorm2d",
    "Mlp",
    "PatchEmbed",
    "StdConv2d",
    "TokenLinear",
    "lecun_normal_",
    "trunc_normal_",
]

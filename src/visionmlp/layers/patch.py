"""Patch embedding: the non-overlapping convolution that turns an image into a grid of tokens."""

import torch
from torch import nn

from ._helpers import to_2tuple


class PatchEmbed(nn.Module):
    """Split an image into ``patch_size`` patches and project each to ``embed_dim`` channels.

    Returns tokens ``(B, H/p * W/p, C)`` when ``flatten`` else an NCHW map. The grid size is
    ``img_size // patch_size``; families whose token mixing is tied to that grid check the input size
    before calling this (see ``visionmlp.models._base``).
    """

    def __init__(
        self,
        img_size=224,
        patch_size=16,
        in_chans: int = 3,
        embed_dim: int = 768,
        bias: bool = True,
        flatten: bool = True,
    ):
        super().__init__()
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        for size, patch in zip(self.img_size, self.patch_size, strict=True):
            if size % patch:
                raise ValueError(
                    f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}; "
                    f"pick an img_size divisible by the patch size"
                )
        self.grid_size = tuple(s // p for s, p in zip(self.img_size, self.patch_size, strict=True))
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.flatten = flatten
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        if self.flatten:
            # B C H W -> B HW C, made contiguous once here: a transposed view would be inherited by every
            # residual sum downstream and copied again by each LayerNorm (measured: ~10% of a Mixer's time).
            x = x.flatten(2).transpose(1, 2).contiguous()
        return x

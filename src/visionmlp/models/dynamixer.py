"""DynaMixer (Wang et al. 2022, ICML, arXiv 2201.12083).

ViP's network (see ``_permutator``) with content-dependent token mixing: along each row (and, with
separate weights, each column) the tokens are compressed to ``d`` features per segment, and a Linear
generates from them, for every segment, an ``L x L`` mixing matrix normalised over the input tokens;
the segment's channels are then mixed with it. Built as the official ``ziyuwwang/DynaMixer``
``models/vision_model.py`` + ``models/dynamixer.py``; its state dicts convert with ``convert.dynamixer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers.linear import linear
from ..layers.resample import resample_1d_axis
from ._permutator import BranchReweightMixer, PermutatorNet
from ._registry import (
    PretrainedCfg,
    Published,
    register_small_variants,
    register_variants,
)


class DynaMixerOp(nn.Module):
    """Dynamic mixing of ``L`` tokens with ``num_heads`` segments and reduced dimension ``d``.

    ``P = softmax_in(generate(flatten_{L,d}(compress(x))))`` per segment, ``y = out(x_seg @ P)``, with ``P``
    indexed (input token, output token) and normalised over the input tokens, as the official code has it.
    ``generate`` is sized by the native sequence length ``seq_len``. For another length ``n``
    (``dynamic_img_size``) its weight, viewed as (in token i, out token j, in token l, d), is linearly
    interpolated along i, j and l from ``seq_len`` to ``n`` points (l rescaled by ``seq_len / n`` as a
    summed axis; ``layers.resample.resample_1d_axis``), and its bias along i and j; at the native length
    the layer is used as it is.
    """

    def __init__(self, dim: int, seq_len: int, num_heads: int, reduced_dim: int):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"num_heads {num_heads} must divide the stage width {dim}")
        self.seq_len, self.num_heads, self.reduced_dim = seq_len, num_heads, reduced_dim
        self.compress = nn.Linear(dim, num_heads * reduced_dim)
        self.generate = nn.Linear(seq_len * reduced_dim, seq_len * seq_len)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, dim: int = -2) -> torch.Tensor:  # x: (..., C), mixing along ``dim``
        """Mix the tokens of ``x`` along ``dim``; ``compress`` and ``out`` act per token, so they run on
        ``x``'s own layout and only the mixing sees the sequences moved next to the channels."""
        n, c, g = x.shape[dim], x.shape[-1], self.num_heads
        z = self.compress(x).transpose(dim, -2)  # (..., L, G*d)
        z = z.unflatten(-1, (g, self.reduced_dim)).transpose(-3, -2).flatten(-2)  # (..., G, L*d)
        y = x.transpose(dim, -2).unflatten(-1, (g, c // g)).movedim(-3, -1) @ self.mixing(z, n)  # (..., G, C/G, L)
        return self.out(y.movedim(-1, -3).flatten(-2).transpose(dim, -2))

    def mixing(self, z: torch.Tensor, n: int) -> torch.Tensor:
        """The mixing matrices ``P`` (..., G, L_in, L_out) generated from the compressed tokens ``z``."""
        logits = self.generate(z) if n == self.seq_len else F.linear(z, *self._generate_weights(n))
        return logits.unflatten(-1, (n, n)).softmax(dim=-2)

    def _generate_weights(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``generate``'s weight and bias for ``n`` tokens, rows in (in token, out token) order."""
        weight, bias = self.generate.weight, self.generate.bias
        m, d = self.seq_len, self.reduced_dim
        if n == m:
            return weight, bias
        weight = weight.reshape(m, m, m, d)  # (in i, out j, in token l, d)
        weight = resample_1d_axis(resample_1d_axis(weight, 0, m, n), 1, m, n)
        weight = resample_1d_axis(weight, 2, m, n, summed=True)
        bias = resample_1d_axis(resample_1d_axis(bias.reshape(m, m), 0, m, n), 1, m, n)
        return weight.reshape(n * n, n * d), bias.reshape(n * n)

    def pack(self) -> DynaMixerOp:
        """For inference: the same function with its mixing matrices transposed (:class:`TransposedDynaMixerOp`)."""
        self.__class__ = TransposedDynaMixerOp
        return self


class TransposedDynaMixerOp(DynaMixerOp):
    """:class:`DynaMixerOp`'s inference form (``pack()``): the same parameters and function, with ``generate``'s
    rows reordered (per call, a copy of one small weight) so that the mixing matrices come out as
    (output token, input token) and the softmax runs over the last dimension, where PyTorch's CPU softmax is
    vectorised (over the second-to-last it runs scalar code for short ``L``: 19% of DynaMixer's bfloat16
    time in a profile); the matmul reads them transposed, with no copy. Only :meth:`mixing` differs."""

    def mixing(self, z: torch.Tensor, n: int) -> torch.Tensor:
        weight, bias = self._generate_weights(n)
        weight = weight.reshape(n, n, -1).transpose(0, 1).reshape(n * n, -1)
        mix_t = linear(z, weight, bias.reshape(n, n).t().reshape(n * n)).unflatten(-1, (n, n)).softmax(dim=-1)
        return mix_t.transpose(-1, -2)  # a view: the matmul reads it transposed


class DynaMixerMixer(BranchReweightMixer):
    """Row and column DynaMixer operations plus ViP's channel branch, fused by split attention."""

    def __init__(self, dim: int, resolution: int, num_heads: int, reduced_dim: int, qkv_bias: bool = False):
        super().__init__(dim, qkv_bias)
        self.mix_h = DynaMixerOp(dim, resolution, num_heads, reduced_dim)
        self.mix_w = DynaMixerOp(dim, resolution, num_heads, reduced_dim)

    def mix_height(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, W, C): columns are the sequences
        return self.mix_h(x, dim=1)

    def mix_width(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix_w(x)


class DynaMixer(PermutatorNet):
    """DynaMixer with the official constructor's arguments (``resolutions[i]`` = stage ``i``'s grid side,
    ``num_heads`` = segments, ``reduced_dims`` = the paper's d)."""

    def __init__(
        self,
        layers: Sequence[int] = (4, 3, 8, 3),
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        patch_size: int = 7,
        embed_dims: Sequence[int] = (192, 384, 384, 384),
        transitions: Sequence[bool] = (True, False, False, False),
        resolutions: Sequence[int] = (32, 16, 16, 16),
        num_heads: Sequence[int] = (8, 16, 16, 16),
        reduced_dims: Sequence[int] = (2, 2, 2, 2),
        mlp_ratios: Sequence[float] = (3, 3, 3, 3),
        skip_lam: float = 1.0,
        qkv_bias: bool = False,
        drop_path_rate: float = 0.0,
        dynamic_img_size: bool = False,
    ):
        super().__init__(
            lambda i, dim: DynaMixerMixer(dim, resolutions[i], num_heads[i], reduced_dims[i], qkv_bias),
            resolutions,
            "resolutions",
            layers,
            embed_dims,
            transitions,
            mlp_ratios,
            num_classes=num_classes,
            img_size=img_size,
            in_chans=in_chans,
            patch_size=patch_size,
            skip_lam=skip_lam,
            drop_path_rate=drop_path_rate,
            dynamic_img_size=dynamic_img_size,
        )


_SRC = (
    "Wang et al. 2022: top-1 from the ziyuwwang/DynaMixer README; exact params and official_macs (fvcore) computed "
    "from the official code (published FLOPs not reachable)"
)


_published = partial(Published, params_exact=True, regime="ImageNet-1k, 300 ep", source=_SRC)


_RATIOS = [3, 3, 3, 3]
_T1 = [True, False, False, False]
_T2 = [False, True, False, False]
_VARIANTS = {
    "dynamixer_s": dict(
        arch=dict(
            layers=[4, 3, 8, 3],
            patch_size=7,
            embed_dims=[192, 384, 384, 384],
            transitions=_T1,
            resolutions=[32, 16, 16, 16],
            num_heads=[8, 16, 16, 16],
            reduced_dims=[2] * 4,
            mlp_ratios=_RATIOS,
        ),
        published=_published(params=26_265_960, official_macs=7.32, top1=82.7),
    ),
    "dynamixer_m": dict(
        arch=dict(
            layers=[4, 3, 14, 3],
            patch_size=7,
            embed_dims=[256, 256, 512, 512],
            transitions=_T2,
            resolutions=[32, 32, 16, 16],
            num_heads=[8, 8, 16, 16],
            reduced_dims=[2] * 4,
            mlp_ratios=_RATIOS,
        ),
        published=_published(params=57_128_264, official_macs=17.02, top1=83.7),
    ),
    "dynamixer_l": dict(
        arch=dict(
            layers=[8, 8, 16, 4],
            patch_size=7,
            embed_dims=[256, 512, 512, 512],
            transitions=_T1,
            resolutions=[32, 16, 16, 16],
            num_heads=[8, 16, 16, 16],
            reduced_dims=[8] * 4,
            mlp_ratios=_RATIOS,
        ),
        published=_published(params=97_818_088, official_macs=27.40, top1=84.3),
        cfg=dict(crop_pct=0.875),
    ),
}
# Two stages (a 2x2 downsample with a width change between them) on an 8x8 then 4x4 grid.
_TINY = dict(
    layers=[1, 1],
    img_size=32,
    patch_size=4,
    embed_dims=[16, 32],
    transitions=[True, False],
    resolutions=[8, 4],
    num_heads=[2, 4],
    reduced_dims=[2, 2],
    mlp_ratios=[2, 2],
)

register_variants(DynaMixer, _VARIANTS, family="dynamixer", pretrained_cfg=PretrainedCfg(crop_pct=0.9), tiny=_TINY)

# Small DynaMixers for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 4 gives a 7x7 / 8x8 grid, too
# small to halve, so all 5 blocks run at one resolution with 8 segments of 14 channels (~0.73 M parameters,
# ~33 M MACs at 28x28).
_SMALL = dict(
    layers=[2, 1, 1, 1],
    patch_size=4,
    embed_dims=[112] * 4,
    transitions=[False] * 4,
    num_heads=[8] * 4,
    reduced_dims=[2] * 4,
    mlp_ratios=[3, 3, 3, 3],
)
register_small_variants(
    "dynamixer_s4",
    DynaMixer,
    _SMALL,
    family="dynamixer",
    per_size={28: dict(resolutions=[7] * 4), 32: dict(resolutions=[8] * 4)},
)

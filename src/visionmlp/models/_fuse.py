"""``VisionModel.fuse()``: fold inference-time constants into the weights next to them.

In eval mode some layers are fixed affine maps of their input, and an affine map before or after a
Linear or a convolution can be folded into its weight and bias, removing a pass over the activations.
Each block that can be folded says how, in its own ``fuse()`` (returning itself, folded in place, or the
module that replaces it), as timm's ``reparameterize_model`` asks each module; :func:`fuse_model` walks
the model and asks every block, so a new block gets fused by defining ``fuse()``, with no list here to
update. The folds this module offers them:

* BatchNorm after a convolution (ConvMLP's tokenizer and conv stage, ResNet): ``conv -> BN`` becomes one
  conv with ``w * g / sqrt(var + eps)`` and a bias.
* ResMLP: the pre-MLP Affine folds into ``fc1`` (``W diag(alpha)``, ``b + W beta``) and LayerScale
  ``ls2`` into ``fc2``. The token branch's Affine and ``ls1`` act per channel around a Linear over the
  tokens, so they cannot go into its weight; they become one per-channel scale applied before the token
  matmul and a per-(token, channel) bias added with it (:class:`FusedTokenMix`).

Fusion is exact up to float rounding (tests check 1e-5 in float32 against the unfused model on random
weights), returns the model, and is idempotent: folded layers are replaced by ``nn.Identity`` or by the
fused modules, which are not folded again. It changes the state dict's keys, so load weights first.
A fused ResMLP runs at its native token grid only (the folded bias is tied to it).
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import Affine
from ..layers.token_linear import mix_tokens


@torch.no_grad()
def fold_bn_into_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Make ``conv`` compute ``bn(conv(x))`` with ``bn``'s running statistics (the caller drops ``bn``)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    conv.bias = nn.Parameter(bias)


@torch.no_grad()
def fold_affine_into_linear(linear: nn.Linear, alpha: torch.Tensor, beta: torch.Tensor) -> None:
    """Make ``linear`` compute ``linear(alpha * x + beta)`` (an affine map on its input features)."""
    linear.bias.add_(linear.weight @ beta)
    linear.weight.mul_(alpha)


@torch.no_grad()
def fold_scale_into_linear(linear: nn.Linear, scale: torch.Tensor) -> None:
    """Make ``linear`` compute ``scale * linear(x)`` (a per-output-feature scale)."""
    linear.weight.mul_(scale[:, None])
    linear.bias.mul_(scale)


class FusedTokenMix(nn.Module):
    """ResMLP's ``ls1 * TokenLinear(Affine(x))`` as ``W @ (x * s) + B``, on (B, N, C).

    With per-channel ``alpha``, ``beta``, ``ls1`` and token weight ``W`` (N, N), bias ``b`` (N):
    ``s = ls1 * alpha`` (C,) and ``B[n, c] = ls1[c] * (beta[c] * sum_m W[n, m] + b[n])`` (N, C).
    """

    def __init__(self, norm: Affine, linear: nn.Linear, ls: torch.Tensor):
        super().__init__()
        with torch.no_grad():
            self.weight = nn.Parameter(linear.weight.detach().clone())
            self.scale = nn.Parameter(ls * norm.alpha)
            row_sum = linear.weight.sum(dim=1)
            self.bias = nn.Parameter(ls * (norm.beta[None, :] * row_sum[:, None] + linear.bias[:, None]))
        self.grid = linear.grid

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:  # x: (B, N, C)
        if grid is not None and tuple(grid) != self.grid:
            raise ValueError(f"a fused ResMLP runs at its native {self.grid} token grid, got {tuple(grid)}")
        return mix_tokens(x * self.scale, self.weight, None) + self.bias


class FusedResBlock(nn.Module):
    """A ResMLP block after fusing (``resmlp.ResBlock.fuse``): ``x += FusedTokenMix(x) ; x += MLP'(x)``."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.token_mix = FusedTokenMix(block.norm1, block.linear_tokens, block.ls1)
        self.mlp_channels = block.mlp_channels
        fold_affine_into_linear(self.mlp_channels.fc1, block.norm2.alpha, block.norm2.beta)
        fold_scale_into_linear(self.mlp_channels.fc2, block.ls2)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None) -> torch.Tensor:
        x = x + self.token_mix(x, grid)
        return x + self.mlp_channels(x)


def fold_conv_bn_pairs(module: nn.Module, count: int) -> nn.Module:
    """Fold ``bnK`` into ``convK`` for K = 1..count (the BatchNorm becomes ``nn.Identity``); already folded
    pairs are left alone. Returns ``module``."""
    for k in range(1, count + 1):
        conv, bn = getattr(module, f"conv{k}"), getattr(module, f"bn{k}")
        if isinstance(bn, nn.BatchNorm2d):
            fold_bn_into_conv(conv, bn)
            setattr(module, f"bn{k}", nn.Identity())
    return module


def fold_conv_bn_sequence(seq: nn.Sequential) -> nn.Sequential:
    """Fold every BatchNorm2d that directly follows a Conv2d inside ``seq`` (torchvision's projection shortcut)."""
    for i in range(len(seq) - 1):
        if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
            fold_bn_into_conv(seq[i], seq[i + 1])
            seq[i + 1] = nn.Identity()
    return seq


def fuse_model(model: nn.Module) -> nn.Module:
    """Ask every block below ``model`` for its ``fuse()`` and put what it returns in its place; returns ``model``.

    A block's ``fuse()`` folds what lies inside it (its children included), so a replaced block's children are
    not asked again.
    """
    if model.training:
        raise RuntimeError("fuse() folds inference-time statistics; call model.eval() first")
    _fuse_children(model)
    return model


def _fuse_children(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        if callable(getattr(child, "fuse", None)):
            fused = child.fuse()
            if fused is not child:
                setattr(module, name, fused)
        else:
            _fuse_children(child)

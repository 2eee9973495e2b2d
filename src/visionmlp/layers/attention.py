"""Scaled dot-product attention that picks the faster kernel for the case at hand.

PyTorch's fused CPU kernel (``F.scaled_dot_product_attention``) is the better choice in float32, but
its bfloat16 backward is slow on CPU: training under bfloat16 autocast spent half of every ViT step
there. For that one case (CPU, bfloat16, gradients wanted) the composed ``softmax(q k^T / sqrt(d)) v``
is used instead; it computes the same function. ``benchmarks/bench_attention.py`` measures both kernels
side by side on the shapes the models produce.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .drop import dropout


def composed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d)) v`` from plain matmuls; attention weights dropped with ``dropout_p``."""
    weights = ((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    if dropout_p:
        weights = dropout(weights, dropout_p)
    return weights @ v


def uses_composed_kernel(q: torch.Tensor) -> bool:
    """True where the composed kernel is the faster one: a bfloat16 backward on CPU."""
    return q.device.type == "cpu" and q.dtype == torch.bfloat16 and torch.is_grad_enabled() and q.requires_grad


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
    """Attention over the last two dimensions of ``(..., N, head_dim)`` tensors, as
    ``F.scaled_dot_product_attention`` without a mask."""
    if uses_composed_kernel(q):
        return composed_attention(q, k, v, dropout_p)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)

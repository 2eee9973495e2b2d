"""The weighted sum that ends split attention (ViP, DynaMixer, CycleMLP, S2-MLPv2): every branch scaled by
its own per-sample, per-channel weight and summed.

Written once because its fast form is not the obvious one. The weights come out of a softmax in a
channel-major ``(B, C, K)`` layout, so ``a[..., k]`` is a view with stride ``K`` in channels; a multiply that
broadcasts such a view over the positions runs 6-10x slower on CPU than one with contiguous weights (both
float32 and bfloat16, measured with ``(8, 28, 28, 192)`` maps). The weights are therefore made contiguous
(a copy of ``K * B * C`` numbers), and the sum is accumulated with ``addcmul``: one pass over each branch
instead of a multiply per branch plus an add per pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def weighted_branch_sum(branches: Sequence[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """``sum_k weights[k] * branches[k]`` for ``K`` branches of shape ``(B, ..., C)`` and ``weights`` of shape
    ``(K, B, C)`` (any strides), each weight broadcast over the positions between B and C."""
    if weights.shape[0] != len(branches):
        raise ValueError(f"{len(branches)} branches need {len(branches)} weights, got {weights.shape[0]}")
    batch, channels = weights.shape[1:]
    weights = weights.contiguous().view(len(branches), batch, *(1,) * (branches[0].dim() - 2), channels)
    out = branches[0] * weights[0]
    for branch, weight in zip(branches[1:], weights[1:], strict=True):
        out = torch.addcmul(out, branch, weight)
    return out

"""Optimizers with weight decay only where it regularises.

Decay applies to weight matrices and kernels; norms' scales, biases (every 0-/1-D parameter) and what
the model names in ``no_weight_decay()`` (position embeddings, class tokens: a prefix matches its
sub-parameters) are left undecayed, as in the papers' recipes.
"""

from __future__ import annotations

import torch
from torch import nn


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    skip = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        excluded = param.ndim <= 1 or name.endswith(".bias") or any(name == s or name.startswith(f"{s}.") for s in skip)
        (no_decay if excluded else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def can_fuse(groups: list[dict]) -> bool:
    """Whether PyTorch's fused kernels (one pass over every parameter) apply: floating-point tensors on CPU
    or CUDA. On CPU they made the AdamW step several times faster than the default per-tensor loop
    (``benchmarks/bench_optimizer.py``), a tenth of a small model's training step."""
    params = [p for group in groups for p in group["params"]]
    return bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


def build_optimizer(
    model: nn.Module, name: str, lr: float, weight_decay: float, momentum: float = 0.9
) -> torch.optim.Optimizer:
    groups = param_groups(model, weight_decay)
    fused = can_fuse(groups) or None
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, fused=fused)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0, fused=fused)
    raise ValueError(f"unknown optimizer {name!r}; valid: adamw, sgd")

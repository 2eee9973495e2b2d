"""Per-step learning-rate schedules: linear warm-up, then cosine to ``min_lr`` or step decay.

The schedule is a pure function of the (possibly fractional) step, so a checkpoint only needs the step
and a time-budgeted run can ask for the rate at the fraction of its budget spent.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer


class WarmupSchedule:
    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float,
        total_steps: int,
        warmup_steps: int = 0,
        *,
        kind: str = "cosine",
        min_lr: float = 0.0,
        warmup_lr: float = 0.0,
        decay_steps: int = 1,
        decay_rate: float = 0.1,
    ):
        if kind not in ("cosine", "step"):
            raise ValueError(f"unknown schedule {kind!r}; valid: cosine, step")
        if total_steps <= 0 or warmup_steps < 0 or decay_steps <= 0:
            raise ValueError("total_steps and decay_steps must be positive and warmup_steps >= 0")
        self.optimizer, self.base_lr, self.kind = optimizer, base_lr, kind
        self.total_steps, self.warmup_steps = total_steps, warmup_steps
        self.min_lr, self.warmup_lr = min_lr, warmup_lr
        self.decay_steps, self.decay_rate = decay_steps, decay_rate

    def lr_at(self, step: float) -> float:
        if step < self.warmup_steps:
            return self.warmup_lr + (self.base_lr - self.warmup_lr) * step / self.warmup_steps
        if self.kind == "step":
            return self.base_lr * self.decay_rate ** int((step - self.warmup_steps) // self.decay_steps)
        span = max(1, self.total_steps - self.warmup_steps)
        done = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * done))

    def set_step(self, step: float) -> float:
        """Set every parameter group's rate for the optimizer step about to run; returns it."""
        lr = self.lr_at(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

"""An exponential moving average of a model's weights (Polyak averaging), updated each optimizer step.

``ema = decay * ema + (1 - decay) * weights`` for floating-point parameters and buffers; integer buffers
are copied. The averaged model is a deep copy in eval mode that the trainer evaluates beside the model.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma:
    def __init__(self, model: nn.Module, decay: float = 0.9998):
        if not 0 <= decay < 1:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for ema_v, v in zip(self.module.state_dict().values(), model.state_dict().values(), strict=True):
            if ema_v.is_floating_point():
                ema_v.lerp_(v.detach(), 1.0 - self.decay)
            else:
                ema_v.copy_(v)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)

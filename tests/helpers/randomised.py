"""Tiny builds of every family with their per-channel parameters moved off their identity init, for tests
that check an inference-time transform (``fuse()``, ``pack()``) computes the same function."""

import torch
from torch import nn

import visionmlp
from visionmlp.models import get_entry

FAMILIES = sorted({get_entry(n).family for n in visionmlp.list_models()})
ONE_PER_FAMILY = [next(n for n in visionmlp.list_models() if get_entry(n).family == f) for f in FAMILIES]


def randomised(name: str) -> nn.Module:
    """A tiny build whose per-channel parameters (norms, LayerScale, biases) and BatchNorm statistics are
    moved away from their identity init, so that folding them is really exercised; weight matrices keep
    their init so activations keep a unit scale and 1e-5 is a meaningful tolerance."""
    torch.manual_seed(0)
    model = visionmlp.create_model(name, **get_entry(name).tiny)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        if isinstance(getattr(model, "head", None), nn.Linear):
            nn.init.normal_(model.head.weight, std=0.1)  # some families start with a zero head
        for p in model.parameters():
            if p.ndim == 1:
                p.add_(0.2 * torch.randn(p.shape, generator=gen))
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=gen))
                module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
    return model.eval()


def sample_input(model: nn.Module, batch: int = 2) -> torch.Tensor:
    c, h, w = model.pretrained_cfg.input_size
    return torch.randn(batch, c, h, w, generator=torch.Generator().manual_seed(2))

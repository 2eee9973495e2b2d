"""The demo's training loop learns a separable toy problem and honours its budgets."""

import pytest
import torch

import visionmlp
from visionmlp.train import train_quick


def _toy(n, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.randint(0, 60, (n, 28, 28), generator=g, dtype=torch.uint8)
    images[labels == 1, 8:20, 8:20] += 150  # a bright square for class 1
    return images, labels


def test_learns_toy_problem():
    torch.manual_seed(0)
    model = visionmlp.create_model("mixer_s4_28", embed_dim=32, num_blocks=2, tokens_mlp_dim=16,
                                   channels_mlp_dim=64, num_classes=2)  # fmt: skip
    x, y = _toy(512, 0)
    tx, ty = _toy(256, 1)
    result = train_quick(model, x, y, tx, ty, time_budget=60, max_epochs=3, batch_size=32, lr=3e-3, progress=False)
    assert result.steps == 3 * (512 // 32)
    assert result.test_top1 > 0.9


def test_rejects_bad_budget():
    model = visionmlp.create_model("mixer_s4_28")
    x, y = _toy(8, 0)
    with pytest.raises(ValueError, match="must all be positive"):
        train_quick(model, x, y, x, y, time_budget=0)

"""The project's dropout draws its mask from 32-bit random lanes instead of ``bernoulli_``: it must be the same
Bernoulli draw (rate, independence, scaling, gradient), reproducible from the seed, and in every model."""

import pytest
import torch
from torch import nn

import visionmlp
from visionmlp.layers import Dropout
from visionmlp.layers.drop import dropout, keep_mask


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.03])
def test_keep_mask_keeps_at_the_asked_rate_in_every_lane(keep):
    torch.manual_seed(0)
    mask = keep_mask((1001, 999), keep).flatten()  # odd sizes: the last 64-bit word is half used
    se = (keep * (1 - keep) / (mask.numel() / 2)) ** 0.5
    for lane in (mask[0::2], mask[1::2]):  # the low and the high half of each random word
        assert abs(lane.float().mean().item() - keep) < 5 * se


def test_keep_mask_elements_are_independent():
    torch.manual_seed(1)
    mask = keep_mask((1 << 20,), 0.5).float()
    neighbours = (mask[1:] * mask[:-1]).mean().item()  # P(both kept) is 0.25 when independent
    assert abs(neighbours - 0.25) < 5 * (0.25 * 0.75 / mask.numel()) ** 0.5


def test_dropout_zeroes_or_rescales_and_its_gradient_is_the_mask():
    torch.manual_seed(2)
    x = torch.randn(64, 49, 32, requires_grad=True)
    y = dropout(x, 0.25)
    kept = y != 0
    assert 0.7 < kept.float().mean().item() < 0.8
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.75)


def test_dropout_is_reproducible_from_the_seed_and_identity_when_off():
    x = torch.randn(8, 100, dtype=torch.bfloat16)
    torch.manual_seed(3)
    first = dropout(x, 0.1)
    torch.manual_seed(3)
    assert torch.equal(first, dropout(x, 0.1)) and first.dtype == torch.bfloat16
    assert dropout(x, 0.1, training=False) is x and dropout(x, 0.0) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))


def test_dropout_module_keeps_nn_dropouts_state_and_repr():
    layer = Dropout(0.1)
    assert isinstance(layer, nn.Dropout) and repr(layer) == repr(nn.Dropout(0.1)) and not layer.state_dict()
    assert layer.eval()(x := torch.randn(3, 4)) is x


def test_every_dropout_in_the_zoo_is_the_fast_one():
    found = 0
    for name in visionmlp.list_models("*_s*_28"):
        drops = [m for m in visionmlp.create_model(name, device="meta").modules() if isinstance(m, nn.Dropout)]
        assert all(type(m) is Dropout for m in drops), name
        found += len(drops)
    assert found > 20  # the zoo builds its dropouts (even at rate 0), so this checks them

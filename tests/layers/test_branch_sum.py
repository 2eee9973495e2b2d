"""``weighted_branch_sum``, the end of split attention (ViP, DynaMixer, CycleMLP, S2-MLPv2): the same
function as the plain broadcast multiply-and-add, in value and in gradient, whatever the weights' strides."""

import pytest
import torch

from visionmlp.layers.branch_sum import weighted_branch_sum


def _case(dtype=torch.float32):
    torch.manual_seed(0)
    branches = [torch.randn(2, 5, 4, 6, dtype=dtype, requires_grad=True) for _ in range(3)]
    logits = torch.randn(2, 6, 3, dtype=dtype, requires_grad=True)  # channel-major, as the models produce
    return branches, logits


def _plain(branches, weights):
    return sum(b * w[:, None, None, :] for b, w in zip(branches, weights, strict=True))


def test_matches_the_plain_sum_in_value_and_gradient():
    branches, logits = _case()
    weights = logits.softmax(-1).permute(2, 0, 1)  # strided (K, B, C), as ViP hands it over
    assert not weights.is_contiguous()
    got = weighted_branch_sum(branches, weights)
    expected = _plain(branches, weights)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)
    grads = torch.autograd.grad(got.square().sum(), [*branches, logits], retain_graph=True)
    expected_grads = torch.autograd.grad(expected.square().sum(), [*branches, logits])
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


def test_bfloat16_within_rounding():
    branches, logits = _case(torch.bfloat16)
    weights = logits.softmax(-1).permute(2, 0, 1)
    exact = _plain([b.float() for b in branches], weights.float())
    torch.testing.assert_close(weighted_branch_sum(branches, weights).float(), exact, atol=0.05, rtol=0.02)


def test_weights_must_match_the_branches():
    branches, logits = _case()
    with pytest.raises(ValueError, match="3 branches need 3 weights, got 2"):
        weighted_branch_sum(branches, logits.permute(2, 0, 1)[:2])

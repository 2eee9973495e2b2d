"""The attention helper: both kernels compute the same function, and the composed one is chosen only
for a bfloat16 backward on CPU (where it is the faster; benchmarks/bench_attention.py measures it)."""

import pytest
import torch
import torch.nn.functional as F

import visionmlp
from visionmlp.layers.attention import attention, composed_attention, uses_composed_kernel


def _qkv(dtype=torch.float32, grad=True):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(3, 2, 7, 8, generator=g, dtype=dtype).requires_grad_(grad) for _ in range(3)]


def test_composed_matches_fused_forward_and_backward():
    q, k, v = _qkv()
    out = composed_attention(q, k, v)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    q2, k2, v2 = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    ref = F.scaled_dot_product_attention(q2, k2, v2)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q2, k2, v2))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("dtype", "grad", "no_grad_mode", "composed"),
    [
        (torch.bfloat16, True, False, True),
        (torch.float32, True, False, False),
        (torch.bfloat16, False, False, False),
        (torch.bfloat16, True, True, False),
    ],
)
def test_kernel_choice(dtype, grad, no_grad_mode, composed):
    q, _, _ = _qkv(dtype, grad)
    with torch.set_grad_enabled(not no_grad_mode):
        assert uses_composed_kernel(q) is composed


def test_attention_dropout():
    """p=0 leaves the result untouched; p>0 drops attention weights and so changes it."""
    q, k, v = _qkv(grad=False)
    torch.testing.assert_close(attention(q, k, v, 0.0), composed_attention(q, k, v))
    torch.manual_seed(0)
    dropped = composed_attention(q, k, v, dropout_p=0.5)
    assert not torch.allclose(dropped, composed_attention(q, k, v))


def test_vit_trains_the_same_under_either_kernel(monkeypatch):
    """A ViT step in bfloat16 autocast on CPU takes the composed path; its loss matches the fused one's."""
    torch.manual_seed(0)
    model = visionmlp.create_model("vit_s4_28", num_classes=10, embed_dim=32, depth=2, num_heads=2)
    x = torch.randn(4, 1, 28, 28)

    def loss():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x).float().logsumexp(-1).sum()

    composed = loss()
    monkeypatch.setattr("visionmlp.layers.attention.uses_composed_kernel", lambda q: False)
    fused = loss()
    torch.testing.assert_close(composed, fused, rtol=2e-2, atol=2e-2)

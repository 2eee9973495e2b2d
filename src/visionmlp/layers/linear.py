"""The Linear layer of every family: ``nn.Linear``'s weights and maths, with float32 on a non-Intel x86 CPU
computed by oneDNN's 1x1 convolution instead of MKL's matrix product.

Why: on an AMD EPYC with AVX-512 (one of the project's machines) PyTorch's float32 ``addmm`` reached about
125-195 GFLOP/s on channel-MLP shapes, where oneDNN's channels-last 1x1 convolution over the same rows
reached 205-420, forward and backward alike: MKL dispatches its AVX-512 kernels by CPU vendor, oneDNN by
the instructions the CPU has. On an Intel Xeon (another of its machines) MKL runs at the vector peak and
the convolution was 4-11% slower in whole models (``python benchmarks/bench_linear.py`` on each). So the
convolution is used where the capability probe says so (``conv_linear``: MKL is PyTorch's BLAS and the CPU
is x86 but not Intel's). The rows of ``x``
become the spatial positions of a (1, C, M, 1) channels-last view, so no data moves. bfloat16, autocast,
other devices and ONNX export keep ``F.linear``, where the convolution is not faster or not wanted in an
exported graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.capabilities import capabilities
from .packed_linear import PackedWeight, Prepackable, fusable, pack_weight, packed_linear, usable


def conv_applies(x: torch.Tensor) -> bool:
    """Whether :func:`linear_as_conv` may stand in for ``F.linear`` on ``x``: float32 on the CPU, outside
    autocast and ONNX export (the cases it was measured faster in)."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.numel() > 0
        and not torch.is_autocast_enabled("cpu")
        and not torch.onnx.is_in_onnx_export()
    )


def conv_is_faster(x: torch.Tensor) -> bool:
    """Whether :func:`linear_as_conv` is the faster way to apply a Linear to ``x`` on this machine."""
    return conv_applies(x) and capabilities().conv_linear


def linear_as_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` as a 1x1 convolution of the rows of ``x`` (same result to rounding)."""
    lead, channels = x.shape[:-1], x.shape[-1]
    rows = x.reshape(1, -1, 1, channels).permute(0, 3, 1, 2)  # (1, C, M, 1), channels-last in memory
    out = F.conv2d(rows, weight[:, :, None, None], bias)
    return out.permute(0, 2, 3, 1).reshape(*lead, weight.shape[0])


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear``, computed by :func:`linear_as_conv` where that is faster."""
    return linear_as_conv(x, weight, bias) if conv_is_faster(x) else F.linear(x, weight, bias)


class Linear(Prepackable, nn.Linear):
    """``nn.Linear`` (same parameters, names and initialisation) computed by :func:`linear`, or, after
    :meth:`pack`, by oneDNN with a prepacked weight during CPU inference (``layers/packed_linear.py``).

    Model definitions write plain ``nn.Linear``; :func:`use_fast_linears` (run by the builder and by
    ``pack()``) puts this class in its place. ``out_chunks`` is set by a block whose fast form splits the
    output into equal parts along the features (gMLP's gate): each part is then its own GEMM writing its own
    contiguous tensor (:meth:`forward_chunks`), where a part of one output would be a strided view that the
    next LayerNorm copies and whose gradient a ``cat`` joins. The parameters do not change with it.
    """

    out_chunks: int = 1

    @classmethod
    def like(cls, linear: nn.Linear) -> Linear:
        """A Linear holding ``linear``'s own parameters (not copies) and mode."""
        fast = cls.__new__(cls)
        nn.Module.__init__(fast)
        fast.in_features, fast.out_features = linear.in_features, linear.out_features
        fast.weight = linear.weight
        fast.register_parameter("bias", linear.bias)
        return fast.train(linear.training)

    def pack(self) -> Linear:
        """Reorder the weight for oneDNN now (in the dtype it has now); a cache, never saved."""
        if self.out_features % self.out_chunks:
            raise ValueError(f"{self.out_features} output features do not split into {self.out_chunks} equal chunks")
        self._packed = tuple(pack_weight(w) for w in self.weight.chunk(self.out_chunks))
        return self

    @property
    def is_packed(self) -> bool:
        """Whether :meth:`pack` left a packed weight (it may still go unused: see ``packed_linear.usable``)."""
        return bool(self._packed) and None not in self._packed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.out_chunks > 1:
            return torch.cat(self.forward_chunks(x), dim=-1)
        return activated_linear(x, self.weight, self.bias, self.single_packed(), self.activation)

    def forward_chunks(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``self(x).chunk(out_chunks, dim=-1)`` with every chunk its own GEMM into its own contiguous tensor (on
        its packed weight where that is usable), not a strided view of one output."""
        weights = self.weight.chunk(self.out_chunks)
        biases = (None,) * self.out_chunks if self.bias is None else self.bias.chunk(self.out_chunks)
        packed = self._packed if len(self._packed) == self.out_chunks else (None,) * self.out_chunks
        return tuple(
            activated_linear(x, w, b, p, self.activation) for w, b, p in zip(weights, biases, packed, strict=True)
        )


def use_fast_linears(module: nn.Module) -> nn.Module:
    """Put a :class:`Linear` holding the same parameters in the place of every plain ``nn.Linear`` below
    ``module`` (subclasses, which compute something else, are left alone); returns ``module``. The model
    definitions write ``nn.Linear`` as the papers do, and get the fast path by being recognised here."""
    for name, child in list(module.named_children()):
        if type(child) is nn.Linear:
            setattr(module, name, Linear.like(child))
        else:
            use_fast_linears(child)
    return module


def activated_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, packed: PackedWeight | None, act: nn.Module | None
) -> torch.Tensor:
    """``act(linear(x, weight, bias))``, on ``packed`` (the activation as its post-op) where it is usable: the
    one place a Linear's packed weight is used or stood aside."""
    if usable(packed, weight, x):
        return activated_packed_linear(x, packed, bias, act)
    out = linear(x, weight, bias)
    return out if act is None else act(out)


def activated_packed_linear(
    x: torch.Tensor, packed: PackedWeight, bias: torch.Tensor | None, act: nn.Module | None
) -> torch.Tensor:
    """``act(...)`` of the packed GEMM (checked :func:`usable` by the caller), as its post-op where it can be."""
    if act is None or fusable(act):
        return packed_linear(x, packed, bias, act)
    return act(packed_linear(x, packed, bias))

"""Linear weights prepacked once by oneDNN for CPU inference, with the activation after a Linear fused into
its GEMM.

Why: in bfloat16 the channel MLPs spent about as long around their GEMMs as in them. ``F.linear`` hands
oneDNN a plain weight that it reorders into its blocked layout on every call, and the GELU after ``fc1``
is a separate pass over the block's widest activation. oneDNN's linear primitive accepts a weight
reordered once and applies the activation as a post-op while the GEMM's output is still in cache; PyTorch
exposes it in eager mode as ``torch.ops.mkldnn._linear_pointwise`` (what inductor's freezing pass emits).
``python benchmarks/bench_packed.py`` measured fc1+GELU 1.19-1.22x faster in bfloat16 and 1.08-1.34x in
float32, whole models 1.00-1.19x in inference (``docs/results/performance.md``, speed work log).

A packed weight is a cache, not state: it is not in ``state_dict``, is dropped by copies and pickling, and
is used only while it still matches the parameter it was packed from (same storage, dtype and in-place
version), no gradient is being recorded and no autocast is on. Anything else (training, autocast,
``model.to(dtype)``, a weight loaded in place, ``torch.compile`` tracing, ONNX export) silently takes the
unpacked path again. Where the capability probe finds no oneDNN (or, for bfloat16 weights, no bfloat16
kernels: an AVX2-only CPU), ``pack()`` packs nothing and every layer keeps the plain path.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..utils.capabilities import capabilities

# oneDNN post-op names (and their algorithm argument) for the activations the families use.
_POST_OPS: dict[type[nn.Module], str] = {nn.ReLU: "relu", nn.SiLU: "swish", nn.GELU: "gelu"}


class PackedWeight(NamedTuple):
    """A weight in oneDNN's blocked layout, with the identity of the parameter it was packed from."""

    source: tuple
    tensor: torch.Tensor


class Prepackable(nn.Module):
    """A module whose GEMM weights :meth:`pack` reorders for oneDNN (``VisionModel.pack()`` packs every one),
    and which can apply the activation that follows it as the GEMM's post-op (:func:`absorb_activation`).

    ``_packed`` is the cache (one :class:`PackedWeight` or None per GEMM the module runs): never saved, and
    dropped on copies and pickling (oneDNN's opaque tensors cannot be copied), to be rebuilt by ``pack()``.
    ``activation`` is None until a block's ``pack()`` hands over its activation; it has no parameters, so
    the state dict does not change, and it is applied on every path, packed or not.
    """

    _packed: tuple[PackedWeight | None, ...] = ()

    def pack(self) -> nn.Module:
        """Pack the weights now; returns ``self`` (the ``pack()`` protocol: a module's replacement or itself)."""
        raise NotImplementedError

    def single_packed(self) -> PackedWeight | None:
        """The packed weight of a module that runs one GEMM; None before :meth:`pack` or where it could not pack."""
        return self._packed[0] if self._packed else None

    @property
    def activation(self) -> nn.Module | None:
        """The activation after this module's GEMM, if a block handed it over (a submodule once assigned)."""
        return self._modules.get("activation")

    def apply_activation(self, out: torch.Tensor) -> torch.Tensor:
        return out if self.activation is None else self.activation(out)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_packed", None)
        return state


def absorb_activation(block: nn.Module, layer: str, act: str) -> None:
    """For a block whose forward computes ``act(layer(x))``: hand ``block.<act>`` to ``block.<layer>`` to run as
    its GEMM's post-op, and put ``nn.Identity`` in its place (the block's ``pack()`` calls this). Only a
    :func:`fusable` activation moves, and only once; the function the block computes is the same either way.
    """
    module, activation = getattr(block, layer), getattr(block, act)
    if isinstance(module, Prepackable) and fusable(activation) and module.activation is None:
        module.activation = activation
        setattr(block, act, nn.Identity())


def _identity(weight: torch.Tensor) -> tuple:
    return weight.data_ptr(), weight._version, weight.dtype, weight.device


def can_pack(weight: torch.Tensor) -> bool:
    """Whether oneDNN packs ``weight`` here: a 2-D CPU tensor, float32 where the capability probe finds oneDNN,
    bfloat16 where it also finds oneDNN's bfloat16 kernels (not on an AVX2-only CPU)."""
    caps = capabilities()
    if weight.device.type != "cpu" or weight.dim() != 2 or not caps.onednn:
        return False
    if weight.dtype == torch.bfloat16:
        return caps.onednn_bf16
    return weight.dtype == torch.float32


def pack_weight(weight: torch.Tensor) -> PackedWeight | None:
    """``weight`` reordered into oneDNN's layout once, or None where :func:`can_pack` says no."""
    if not can_pack(weight):
        return None
    with torch.no_grad():
        return PackedWeight(_identity(weight), torch.ops.mkldnn._reorder_linear_weight(weight.detach()))


def usable(packed: PackedWeight | None, weight: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether ``packed`` may stand in for ``weight`` on input ``x`` now."""
    # compiling first: dynamo must not trace into the opaque packed tensor
    return (
        not torch.compiler.is_compiling()
        and packed is not None
        and not torch.is_grad_enabled()
        and x.dtype == weight.dtype
        and x.device.type == "cpu"
        and not torch.is_autocast_enabled("cpu")
        and not torch.onnx.is_in_onnx_export()
        and packed.source == _identity(weight)
    )


def post_op(act: nn.Module | None) -> tuple[str, str]:
    """The oneDNN post-op (name, algorithm) computing ``act``: ``None`` or an activation :func:`fusable` accepts."""
    if act is None:
        return "none", ""
    name = _POST_OPS[type(act)]
    return name, getattr(act, "approximate", "") if name == "gelu" else ""


def fusable(act: nn.Module) -> bool:
    """Whether ``act`` can run as a post-op of the packed GEMM."""
    return type(act) in _POST_OPS


def packed_linear(
    x: torch.Tensor, packed: PackedWeight, bias: torch.Tensor | None, act: nn.Module | None = None
) -> torch.Tensor:
    """``act(F.linear(x, weight, bias))`` with the packed weight (``act`` None or :func:`fusable`)."""
    name, algorithm = post_op(act)
    return torch.ops.mkldnn._linear_pointwise(x, packed.tensor, bias, name, [], algorithm)

"""``VisionModel.pack()``: the CPU inference fast path as a transformation of a built model.

The model definitions are written as the papers write them, with plain ``nn.Linear`` and ``nn.Conv2d``;
what makes them fast at inference is put in afterwards, by module replacement, as ``fuse()`` does
(``models/_fuse.py``):

* every plain ``nn.Linear`` becomes ``layers.Linear`` (same parameters; the builder already does this, for
  training's float32 convolution path too);
* every module is asked for its ``pack()``, children first, and what it returns takes its place: the
  layers that run a GEMM (``Linear``, ``ConvNHWC`` and what derives from them) prepack their weights for
  oneDNN; a block whose forward applies an activation after one of them hands it over as the GEMM's
  post-op (``layers.packed_linear.absorb_activation``); a block with a faster inference form of the same
  function returns it (gMLP's split gate, DynaMixer's transposed mixing matrices).

A new block gets the packed GEMMs by being built of ``nn.Linear`` or the layers, with nothing to call; it
gets a fused activation or an inference form by defining ``pack()``. Packing is a cache, never saved:
training, autocast, a dtype change or an in-place weight update take the unpacked path until ``pack()``
runs again, and the outputs equal the plain model's to float rounding (``tests/layers/test_packed_linear.py``).
"""

from __future__ import annotations

from torch import nn

from ..layers.linear import use_fast_linears


def pack_model(model: nn.Module) -> nn.Module:
    """Put fast Linears in place, then ask every module below ``model`` for its ``pack()``; returns ``model``."""
    use_fast_linears(model)
    _pack_children(model)
    return model


def _pack_children(module: nn.Module) -> None:
    for name, child in list(module.named_children()):
        _pack_children(child)
        if callable(getattr(child, "pack", None)):
            packed = child.pack()
            if packed is not child:
                setattr(module, name, packed)

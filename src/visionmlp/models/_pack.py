"""The fast paths as transformations of a built model: the builder's fast forms and ``VisionModel.pack()``.

The model definitions are written as the papers write them, with plain ``nn.Linear`` and ``nn.Conv2d``;
what makes them fast is put in afterwards, by module replacement, as ``fuse()`` does (``models/_fuse.py``):

* what the builder already does (:func:`use_fast_forms`), because it is as valid in training: every plain
  ``nn.Linear`` becomes ``layers.Linear`` (same parameters; the float32 convolution path), and every module that
  has a faster form of the same function for training and inference alike is asked for it (``fast_form()``:
  gMLP's gate with ``u`` and ``v`` from two GEMMs);
* every module is asked for its ``pack()``, children first, and what it returns takes its place: the
  layers that run a GEMM (``Linear``, ``ConvNHWC`` and what derives from them) prepack their weights for
  oneDNN; a block whose forward applies an activation after one of them hands it over as the GEMM's
  post-op (``layers.packed_linear.absorb_activation``); a block with a faster inference form of the same
  function returns it (DynaMixer's transposed mixing matrices).

A new block gets the packed GEMMs by being built of ``nn.Linear`` or the layers, with nothing to call; it
gets a fused activation or an inference form by defining ``pack()``, and a form for training too by defining
``fast_form()``. Packing is a cache, never saved: training, autocast, a dtype change or an in-place weight
update take the unpacked path until ``pack()`` runs again, and the outputs equal the plain model's to float
rounding (``tests/layers/test_packed_linear.py``).
"""

from __future__ import annotations

from torch import nn

from ..layers.linear import use_fast_linears


def use_fast_forms(model: nn.Module) -> nn.Module:
    """Fast Linears in place, then every module below ``model`` asked for its ``fast_form()``; returns ``model``.
    Exact (the same function and parameters) in training and inference; the builder runs it on every model."""
    use_fast_linears(model)
    _replace_children(model, "fast_form")
    return model


def pack_model(model: nn.Module) -> nn.Module:
    """The fast forms in place, then every module below ``model`` asked for its ``pack()``; returns ``model``."""
    use_fast_forms(model)
    _replace_children(model, "pack")
    return model


def _replace_children(module: nn.Module, method: str) -> None:
    """Children first: call each module's ``method`` where it has one and put what it returns in its place."""
    for name, child in list(module.named_children()):
        _replace_children(child, method)
        if callable(getattr(child, method, None)):
            replacement = getattr(child, method)()
            if replacement is not child:
                setattr(module, name, replacement)

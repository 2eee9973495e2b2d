"""The architecture builder: a registered variant with its overrides, without weights.

Loading weights (native folders, official files, ``pretrained=True``) needs the converters, which sit
above this package; ``visionmlp.create_model`` (``visionmlp/factory.py``) wraps this builder with that.
"""

from __future__ import annotations

import contextlib
import inspect

import torch
from torch import nn

from ._official_args import official_to_kwargs
from ._pack import use_fast_forms
from ._registry import get_entry, variant_arguments, with_input

# Argument names shared across the families, checked here once before a class sees them, so a bad value
# is one clear ValueError instead of a failure deep inside torch (a negative tensor size, a zero stride).
_SIZE_ARGS = {"in_chans", "patch_size", "img_size", "depth", "depths", "num_blocks", "layers", "blocks", "dims",
              "widths", "num_heads"}  # fmt: skip
_SIZE_SUFFIXES = ("_dim", "_dims", "_width", "_units")
_RATE_SUFFIX = "drop_rate", "drop_path_rate"
_RATIO_SUFFIXES = ("mlp_ratio", "mlp_ratios")

_BUILDER_ARGS = (
    "pretrained",
    "num_classes",
    "in_chans",
    "img_size",
    "features_only",
    "out_indices",
    "device",
    "dynamic_img_pad",
    "official_kwargs",
)


def build_model(
    name: str,
    num_classes: int | None = None,
    in_chans: int | None = None,
    img_size: int | tuple[int, int] | None = None,
    features_only: bool = False,
    out_indices=None,
    device: str | torch.device | None = None,
    dynamic_img_pad: bool = False,
    official_kwargs: dict | None = None,
    **kwargs,
) -> nn.Module:
    """Build the registered variant ``name`` with fresh (initialised) weights.

    ``num_classes``, ``in_chans`` and ``img_size`` override the variant's defaults; any other keyword
    (``drop_path_rate``, ``gelu_approximate`` ...) goes to the model class, and an unknown one raises a
    TypeError listing the valid arguments. ``device="meta"`` builds without allocating memory, for
    counting parameters of the largest variants. ``features_only=True`` returns a backbone whose forward
    gives a list of NCHW maps (``out_indices`` selects them; see ``model.feature_info``).
    ``dynamic_img_pad=True`` (timm's name) zero-pads inputs of a grid-tied family at the bottom/right to
    multiples of its stride; the families that take any size have nothing to pad and refuse it.
    ``official_kwargs`` takes the official constructor's arguments by their official names
    (``models/_official_args.py``); keywords given beside it override it.

    The model records the overrides it was built with as ``model.build_kwargs`` so that
    ``save_pretrained`` can write a config that rebuilds it.
    """
    entry = get_entry(name)
    for key, value in (("num_classes", num_classes), ("in_chans", in_chans), ("img_size", img_size)):
        if value is not None:
            kwargs[key] = value
    if official_kwargs is not None:
        kwargs = {**official_to_kwargs(entry.family, official_kwargs, variant_arguments(name)), **kwargs}
    if "pretrained" in kwargs:
        raise TypeError(
            "visionmlp.models.build_model builds architectures only; load weights with "
            f"visionmlp.create_model({name!r}, pretrained=...)"
        )
    _check_kwargs(name, entry.builder, kwargs)
    _check_values(name, kwargs)
    if out_indices is not None and not features_only:
        raise ValueError("out_indices only applies with features_only=True")

    with torch.device(device) if device is not None else contextlib.nullcontext():
        model = entry.builder(**kwargs)
    use_fast_forms(model)  # the definitions write nn.Linear and the papers' forms; see models/_pack.py
    model.model_name = name
    model.build_kwargs = dict(kwargs)
    if dynamic_img_pad:
        _set_dynamic_img_pad(name, model)
    input_size = tuple(getattr(model, "img_size", entry.pretrained_cfg.input_size[1:]))
    model.pretrained_cfg = with_input(entry.pretrained_cfg, model.in_chans, input_size, model.num_classes)
    if features_only:
        model.set_features_only(out_indices)
    return model


def _set_dynamic_img_pad(name: str, model: nn.Module) -> None:
    if not model.supports_dynamic_img_size:
        raise ValueError(
            f"{name} takes inputs of any size (no weight is tied to its grid), so there is nothing to pad; "
            "drop dynamic_img_pad"
        )
    model.dynamic_img_pad = True
    model.build_kwargs["dynamic_img_pad"] = True  # saved with the model, so a reload pads too


def _check_kwargs(name: str, builder, kwargs: dict) -> None:
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        valid = sorted(set(params) | set(_BUILDER_ARGS))
        raise TypeError(f"{name} got unknown argument(s) {', '.join(unknown)}; valid arguments: {', '.join(valid)}")


def _check_values(name: str, kwargs: dict) -> None:
    """Sizes must be positive integers (or sequences of them), drop rates in [0, 1), MLP ratios > 0."""
    for key, value in kwargs.items():
        if key in _SIZE_ARGS or key.endswith(_SIZE_SUFFIXES):
            items = value if isinstance(value, (tuple, list)) else (value,)
            if not items or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in items):
                raise ValueError(f"{name}: {key} must be a positive integer or a sequence of them, got {value!r}")
        elif key.endswith(_RATE_SUFFIX):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
                raise ValueError(f"{name}: {key} must be a number in [0, 1) (a probability of dropping), got {value!r}")
        elif key.endswith(_RATIO_SUFFIXES):
            items = value if isinstance(value, (tuple, list)) else (value,)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in items):
                raise ValueError(f"{name}: {key} must be a positive number or a sequence of them, got {value!r}")

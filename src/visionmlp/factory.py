"""``visionmlp.create_model``: build a variant and load weights from any source.

This sits above ``models`` and ``convert`` so that loading official checkpoints can use the converters
while the models stay free of them. ``pretrained`` may be

* ``True``: the variant's official file, found through ``visionmlp.hub`` (local folder, cache, download);
* a ``save_pretrained`` folder (or its ``model.safetensors``): rebuilt with the saved keyword arguments;
* any official file (``.pth``, ``.pth.tar``, ``.npz``, ``.safetensors``): its format is recognised from its
  key names (``formats.py``), converted, and the converter's model arguments applied (e.g. tanh GELU for
  the Flax Mixer).

Loading is strict, with two deliberate adaptations that warn: a classifier of another size is dropped
(the model keeps its fresh head), and a first convolution trained on another number of input channels is
adapted (summed over RGB for 1 channel, repeated and rescaled otherwise).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from . import hub
from .convert import CONVERTERS, StateDictMismatchError, convert_state_dict, load_converted
from .formats import detect_format
from .models import build_model, get_entry
from .models import list_models as registered_models
from .models._official_args import as_tuples
from .models._weights import NATIVE_FORMAT, Checkpoint, read_checkpoint

AUTO = "auto"
_log = logging.getLogger("visionmlp")


@dataclass
class LoadReport:
    """What loading did: the format read, and every adaptation made on the way."""

    source: str
    format: str
    tensors: int
    parameters: int
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        issues = "; ".join(self.notes) if self.notes else "none"
        return f"format {self.format}, {self.tensors} tensors, {self.parameters:,} parameters, key issues: {issues}"


def create_model(
    name: str,
    pretrained: bool | str | Path = False,
    checkpoint_path: str | Path | None = None,
    num_classes: int | None = None,
    in_chans: int | None = None,
    img_size: int | tuple[int, int] | None = None,
    **kwargs,
) -> nn.Module:
    """Build the registered variant ``name``, with weights when ``pretrained`` or ``checkpoint_path`` says
    where from.

    ``pretrained=True`` takes the variant's official weights (``visionmlp.hub``); a path takes a
    ``save_pretrained`` folder or any official file. ``checkpoint_path`` (timm's name) is the same as
    passing that path as ``pretrained``. ``num_classes``, ``in_chans`` and ``img_size`` override the
    variant's defaults; with weights, a different ``num_classes`` drops the checkpoint's head with a
    warning and a different ``in_chans`` adapts the first convolution. Other keywords are those of
    ``visionmlp.models.build_model`` (``features_only``, ``out_indices``, ``device`` and the model
    class's own arguments).
    """
    name, _, tag = name.partition(".")  # timm's "name.tag": which official file pretrained=True takes
    if tag:
        hub.weight_file(name, tag)  # an unknown tag fails here, with the variant's tags, whatever pretrained is
    for key, value in (("num_classes", num_classes), ("in_chans", in_chans), ("img_size", img_size)):
        if value is not None:
            kwargs[key] = value
    if checkpoint_path is not None:
        if pretrained not in (False, None):
            raise ValueError("pass either pretrained or checkpoint_path, not both: they both name the weights")
        pretrained = checkpoint_path
    if pretrained is False or pretrained is None:
        return build_model(name, **kwargs)
    if pretrained is True:
        kwargs.setdefault("num_classes", hub.weight_file(name, tag or None).num_classes)  # in21k files: 21843
        pretrained = hub.resolve(name, tag or None)
    if not isinstance(pretrained, (str, Path)):
        raise TypeError(f"pretrained must be True/False or a path, got {type(pretrained).__name__}")
    model, _ = load_pretrained(name, pretrained, **kwargs)
    return model


def list_models(pattern: str = "*", family: str | None = None, pretrained: bool = False) -> list[str]:
    """Registered names matching ``pattern`` (shell-style) and ``family``; with ``pretrained``, as timm does, one
    ``name.tag`` per official weight file instead (``create_model`` takes either)."""
    return hub.list_pretrained(pattern, family) if pretrained else registered_models(pattern, family)


def load_pretrained(
    name: str, path: str | Path, fmt: str = AUTO, features_only: bool = False, out_indices=None, **kwargs
) -> tuple[nn.Module, LoadReport]:
    """Build ``name`` and load ``path`` into it; returns the model (eval mode) and a :class:`LoadReport`.

    ``fmt`` forces a format (``visionmlp`` for native, or a converter name) instead of recognising it. The
    report is also kept on the model as ``model.load_report`` and logged (logger ``visionmlp``, INFO), so a
    ``create_model`` caller can see which format was detected.
    """
    ckpt = read_checkpoint(path)
    fmt = _choose_format(ckpt, fmt)
    saved = _native_kwargs(ckpt, name) if fmt == NATIVE_FORMAT else dict(CONVERTERS[fmt].model_kwargs)
    model = build_model(name, **{**saved, **kwargs})
    fmt, state, notes = _load_state(model, ckpt, fmt, get_entry(name).family)
    if fmt == NATIVE_FORMAT:
        _restore_input(model, ckpt)
    for note in notes:
        warnings.warn(f"{ckpt.path}: {note}", UserWarning, stacklevel=3)
    params = sum(p.numel() for p in model.parameters())
    if ckpt.config and ckpt.config.get("features_only") and not features_only:
        features_only, out_indices = True, ckpt.config.get("out_indices")
    if features_only:
        model.set_features_only(out_indices)
    report = LoadReport(str(ckpt.path), fmt, len(state), params, notes)
    model.load_report = report
    _log.info("%s: loaded into %s, %s", ckpt.path, name, report.summary())
    return model.eval(), report


def _load_state(model: nn.Module, ckpt: Checkpoint, fmt: str, family: str) -> tuple[str, dict, list[str]]:
    """Load ``ckpt`` into ``model`` as format ``fmt``; returns the format used, the state and the notes.

    Some official schemes coincide with visionmlp's names (timm's Mixer), so a file recognised as official
    may be a visionmlp state dict: an exact fit loads as it is; otherwise the conversion is tried first and
    the state as it is second. A conversion that completes but does not fit the model raises its own report
    (it names the converted keys); if the conversion and the state as it is both fail, the error of the
    likelier reading is raised.
    """
    source = str(ckpt.path)
    state = ckpt.state
    if fmt == NATIVE_FORMAT or _fits(model, state):  # the official names are ours: nothing to convert
        return fmt, state, _fit_and_load(model, dict(state), source)
    converter = CONVERTERS[fmt]
    if family not in converter.families:
        foreign_error: Exception = ValueError(
            f"{source} holds {fmt} weights (for {', '.join(converter.families)}), but the model is a {family} "
            "model; pick a model of that family"
        )
    else:
        try:
            converted = convert_state_dict(fmt, state)
        except (ValueError, KeyError, RuntimeError) as err:  # the file does not follow the scheme: maybe it is ours
            foreign_error = err
        else:  # a complete conversion that does not fit the model: its report names the file's problem
            return fmt, converted, _fit_and_load(model, converted, source)
    try:
        return NATIVE_FORMAT, state, _fit_and_load(model, dict(state), source)
    except StateDictMismatchError:
        if len(state.keys() & model.state_dict().keys()) * 2 > len(state):
            raise
        raise foreign_error from None


def _fit_and_load(model: nn.Module, state: dict, source: str) -> list[str]:
    """Adapt ``state`` (in place) to the model's head and input channels, then load it strictly."""
    notes = _drop_mismatched_head(model, state) + _adapt_in_chans(model, state)
    load_converted(model, state, source)
    return notes


def _choose_format(ckpt: Checkpoint, fmt: str) -> str:
    if fmt != AUTO:
        if fmt != NATIVE_FORMAT and fmt not in CONVERTERS:
            valid = ", ".join([AUTO, NATIVE_FORMAT, *sorted(CONVERTERS)])
            raise ValueError(f"unknown checkpoint format {fmt!r}; valid formats: {valid}")
        return fmt
    if ckpt.is_native:
        return NATIVE_FORMAT
    detected = detect_format(ckpt.state)
    if detected is None:
        return NATIVE_FORMAT  # not an official scheme: a visionmlp state dict, checked strictly below
    if detected not in CONVERTERS:
        raise ValueError(f"{ckpt.path} looks like a {detected} checkpoint, but no {detected} converter is registered")
    return detected


def _native_kwargs(ckpt: Checkpoint, name: str) -> dict:
    """The build arguments saved beside native weights (none for a bare state dict)."""
    if not ckpt.config:
        return {}
    saved_as = ckpt.config.get("architecture")
    if saved_as != name:
        raise ValueError(f"{ckpt.path} holds a {saved_as} model, not {name}; call create_model({saved_as!r}, ...)")
    return {key: as_tuples(value) for key, value in (ckpt.config.get("kwargs") or {}).items()}


#: what a saved pretrained_cfg brings back: how the weights want their input, and the class names
_SAVED_INPUT = ("mean", "std", "crop_pct", "interpolation", "label_names")


def _restore_input(model: nn.Module, ckpt: Checkpoint) -> None:
    """The saved pretrained_cfg's normalisation, crop and class names onto the model (its size and class count
    are the model's own); class names only while the head still has as many classes."""
    saved = (ckpt.config or {}).get("pretrained_cfg") or {}
    fields = {k: as_tuples(saved[k]) for k in _SAVED_INPUT if saved.get(k) is not None}
    if len(fields.get("label_names", ())) != model.num_classes:
        fields.pop("label_names", None)
    if fields:
        model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, **fields)


def _fits(model: nn.Module, state: dict[str, torch.Tensor]) -> bool:
    expected = model.state_dict()
    return expected.keys() == state.keys() and all(state[k].shape == v.shape for k, v in expected.items())


def _classifier_prefix(model: nn.Module) -> str | None:
    if not hasattr(model, "get_classifier"):
        return None
    head = model.get_classifier()
    return next((f"{n}." for n, m in model.named_modules() if m is head and n), None)


def _drop_mismatched_head(model: nn.Module, state: dict) -> list[str]:
    """Remove the checkpoint's classifier from ``state`` when it does not fit the model's (in place)."""
    prefix = _classifier_prefix(model)
    if prefix is None:
        return []
    expected = model.state_dict()
    keys = [k for k in state if k.startswith(prefix)]
    if not keys or all(k in expected and expected[k].shape == state[k].shape for k in keys):
        return []
    ckpt_classes = state[keys[0]].shape[0] if state[keys[0]].ndim else "?"
    for key in keys:
        del state[key]
    state.update({k: v for k, v in expected.items() if k.startswith(prefix)})
    return [
        f"classifier dropped: the checkpoint has {ckpt_classes} classes, the model {model.num_classes}; "
        "the model keeps its freshly initialised head"
    ]


def _adapt_in_chans(model: nn.Module, state: dict) -> list[str]:
    """Fit convolution kernels trained on another number of input channels to ``model.in_chans`` (in place).

    One channel gets the sum over the trained channels (a grey image is R=G=B); other counts repeat the
    trained channels cyclically and rescale by trained/new, which keeps the activation scale for inputs
    whose channels look alike.
    """
    notes = []
    expected = model.state_dict()
    for key, weight in list(state.items()):
        target = expected.get(key)
        if target is None or weight.ndim != 4 or weight.shape == target.shape:
            continue
        if (
            target.shape[1] != model.in_chans
            or weight.shape[:1] + weight.shape[2:] != target.shape[:1] + target.shape[2:]
        ):
            continue
        src, dst = weight.shape[1], target.shape[1]
        if dst == 1:
            adapted = weight.sum(dim=1, keepdim=True)
        else:
            adapted = weight.repeat(1, math.ceil(dst / src), 1, 1)[:, :dst] * (src / dst)
        state[key] = adapted.to(weight.dtype)
        notes.append(f"{key} adapted from {src} to {dst} input channels")
    return notes


__all__ = ["AUTO", "LoadReport", "create_model", "load_pretrained"]

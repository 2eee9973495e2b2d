"""timm's two input-pipeline helpers, for code written against timm: ``resolve_data_config`` reads a model's
input settings, ``create_transform`` turns them into the transform (here built on PIL and torch, no torchvision)."""

from __future__ import annotations

from collections.abc import Sequence

from .transforms import Compose, build_eval_transform, build_train_transform

#: the keys of a data config, as timm names them
DATA_KEYS = ("input_size", "interpolation", "mean", "std", "crop_pct")


def resolve_data_config(args: dict | None = None, model=None, pretrained_cfg=None, **_timm_only) -> dict:
    """``input_size``, ``interpolation``, ``mean``, ``std`` and ``crop_pct`` from ``pretrained_cfg`` (or the
    model's), each overridden by ``args`` where it gives one; timm's other arguments are accepted and ignored."""
    cfg = pretrained_cfg if pretrained_cfg is not None else getattr(model, "pretrained_cfg", None)
    if cfg is None:
        raise ValueError("resolve_data_config needs a model with a pretrained_cfg, or pretrained_cfg=")
    resolved = {key: cfg[key] for key in DATA_KEYS}
    resolved.update({key: value for key, value in (args or {}).items() if key in DATA_KEYS and value is not None})
    return resolved


def create_transform(
    input_size: int | Sequence[int],
    is_training: bool = False,
    interpolation: str = "bicubic",
    mean: Sequence[float] = (0.485, 0.456, 0.406),
    std: Sequence[float] = (0.229, 0.224, 0.225),
    crop_pct: float = 0.875,
    **_timm_only,
) -> Compose:
    """The eval transform (resize, centre crop, to tensor, normalise) or with ``is_training`` the training one
    (random resized crop, flip); the output has as many channels as ``mean`` has entries."""
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)[-2:]
    if is_training:
        return build_train_transform(size, mean, std, interpolation=interpolation)
    return build_eval_transform(size, mean, std, crop_pct=crop_pct, interpolation=interpolation)

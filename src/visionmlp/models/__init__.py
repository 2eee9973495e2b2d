"""Model families. Every non-private module here is a family and is imported so that its variants register."""

import importlib
import pkgutil

from ._base import VisionModel
from ._builder import build_model
from ._features import FeatureInfo
from ._kind import BASELINE_FAMILIES, is_all_mlp
from ._registry import (
    ModelEntry,
    PretrainedCfg,
    Published,
    get_entry,
    list_families,
    list_models,
    register_model,
    register_variant,
)

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "BASELINE_FAMILIES",
    "FeatureInfo",
    "ModelEntry",
    "PretrainedCfg",
    "Published",
    "VisionModel",
    "build_model",
    "get_entry",
    "is_all_mlp",
    "list_families",
    "list_models",
    "register_model",
    "register_variant",
]

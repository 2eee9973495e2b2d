"""visionmlp: the all-MLP vision models, built as published, trainable, convertible and measurable."""

from ._version import __version__
from .factory import create_model, list_models, load_pretrained
from .models import (
    PretrainedCfg,
    Published,
    VisionModel,
    get_entry,
    list_families,
    register_model,
    register_variant,
)

__all__ = [
    "PretrainedCfg",
    "Published",
    "VisionModel",
    "__version__",
    "create_model",
    "get_entry",
    "list_families",
    "list_models",
    "load_pretrained",
    "register_model",
    "register_variant",
]

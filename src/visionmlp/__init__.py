"""visionmlp: the all-MLP vision models, built as published, trainable, convertible and measurable."""

from .models import (
    PretrainedCfg,
    Published,
    VisionModel,
    create_model,
    get_entry,
    list_families,
    list_models,
    register_model,
    register_variant,
)

__version__ = "0.1.0"

__all__ = [
    "PretrainedCfg",
    "Published",
    "VisionModel",
    "__version__",
    "create_model",
    "get_entry",
    "list_families",
    "list_models",
    "register_model",
    "register_variant",
]

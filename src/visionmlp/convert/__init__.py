"""Converters from the official checkpoint formats to visionmlp state dicts.

Each foreign format has one module here that registers a pure function ``foreign_state -> our_state``
with :func:`register_converter`. Every module in this package is imported, so the registry is complete
once ``visionmlp.convert`` is imported.
"""

import importlib
import pkgutil

from ._common import (
    CONVERTERS,
    Converter,
    KeyReader,
    StateDictMismatchError,
    check_against_model,
    convert_state_dict,
    get_converter,
    load_converted,
    register_converter,
)

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CONVERTERS",
    "Converter",
    "KeyReader",
    "StateDictMismatchError",
    "check_against_model",
    "convert_state_dict",
    "get_converter",
    "load_converted",
    "register_converter",
]

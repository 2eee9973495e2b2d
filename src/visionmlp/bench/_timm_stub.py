"""Make timm importable on machines without torchvision, for ``--compare timm`` only.

timm imports torchvision at import time (``FrozenBatchNorm2d``, transforms and datasets for its data
pipeline), but torchvision has no wheel for the CPU torch these machines carry, and the MLP models timm
builds never call it. :func:`install` registers stand-in modules under the names timm's import reads;
every name taken from them is a placeholder class that fails loudly if anything instantiates or calls
it, so a code path that really needs torchvision cannot silently run on the stand-in. Nothing is
registered when a real torchvision is importable, and the rest of visionmlp never calls this.
"""

from __future__ import annotations

import importlib.util
import sys
import types

# The torchvision modules timm 1.0's ``import timm`` reads from (layers, data and utils packages).
_MODULES = (
    "torchvision",
    "torchvision.ops",
    "torchvision.ops.misc",
    "torchvision.datasets",
    "torchvision.transforms",
    "torchvision.transforms.functional",
)


class _Missing(type):
    """Metaclass of the placeholders: attribute reads (``InterpolationMode.BILINEAR``) give placeholders."""

    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(f"{cls.__qualname__}.{name}")

    def __call__(cls, *args, **kwargs):
        raise RuntimeError(f"{cls.__qualname__} comes from visionmlp's torchvision stand-in; install torchvision")


def _placeholder(name: str) -> type:
    return _Missing(name, (), {"__module__": "torchvision"})


def _stub_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name, "visionmlp's stand-in for torchvision (see visionmlp.bench._timm_stub)")
    module.__path__ = []  # a package, so ``import torchvision.ops.misc`` resolves the submodules

    def missing(attr: str) -> type:
        if attr.startswith("__"):  # module protocol (__file__, __spec__ ...): absent, as on a real module
            raise AttributeError(attr)
        return _placeholder(f"{name}.{attr}")

    module.__getattr__ = missing
    return module


def install() -> bool:
    """Register the stand-in unless torchvision is really importable; returns whether it did."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return False
    modules = {name: _stub_module(name) for name in _MODULES}
    for name, module in modules.items():
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
    sys.modules.update(modules)
    return True

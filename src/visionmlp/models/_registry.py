"""The model registry: every variant is a name bound to a builder, its input config and its published figures.

A family module registers its variants at import time; ``visionmlp.models`` imports every family module,
so importing ``visionmlp`` is enough to see the whole zoo.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class WeightFile:
    """One published weight file of a variant: where it is, what it holds and what it scores.

    ``file_name`` is the name ``pretrained=True`` looks for in ``$VISIONMLP_WEIGHTS_DIR`` (unique across
    the zoo, so several files can sit in one folder); ``format`` the converter that reads it
    (``visionmlp.convert``); ``top1`` the top-1 it scores: the ImageNet-1k top-1 its authors report for an
    official file, the test top-1 on the dataset its tag names for the project's own. ``direct`` is False
    where the authors share the file through a web page (OneDrive) rather than a link to the file: it is then
    never downloaded, and the error says which page to open and where to save the file.
    """

    url: str
    file_name: str
    format: str
    tag: str = ""
    num_classes: int = 1000
    top1: float | None = None
    sha256: str | None = None
    direct: bool = True

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PretrainedCfg:
    """How a variant expects its input, timm-style: what a data pipeline needs to feed it.

    ``weights`` lists the variant's official weight files, preferred first (``pretrained=True`` takes
    the first); a family may set it, otherwise ``visionmlp.hub`` supplies the known ones.
    """

    input_size: tuple[int, int, int] = (3, 224, 224)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    crop_pct: float = 0.875
    interpolation: str = "bicubic"
    num_classes: int = 1000
    fixed_input_size: bool = True
    weights: tuple[WeightFile, ...] = ()
    #: the class names, in label order, where the weights were trained on named classes (timm's name)
    label_names: tuple[str, ...] | None = None

    # Read as a mapping too, as timm code does (``model.pretrained_cfg["mean"]``, ``.get("crop_pct")``).
    def __getitem__(self, key: str):
        if key not in self.__dataclass_fields__:
            raise KeyError(f"pretrained_cfg has no {key!r}; its fields: {', '.join(self.__dataclass_fields__)}")
        return getattr(self, key)

    def get(self, key: str, default=None):
        return getattr(self, key) if key in self.__dataclass_fields__ else default

    def keys(self):
        return self.__dataclass_fields__.keys()

    def to_dict(self) -> dict:
        return {
            **({"label_names": list(self.label_names)} if self.label_names is not None else {}),
            "input_size": list(self.input_size),
            "mean": list(self.mean),
            "std": list(self.std),
            "crop_pct": self.crop_pct,
            "interpolation": self.interpolation,
            "num_classes": self.num_classes,
            "fixed_input_size": self.fixed_input_size,
            "weights": [w.to_dict() for w in self.weights],
        }


@dataclass(frozen=True)
class Published:
    """What is known of a variant from its paper and official code, with where it comes from.

    ``params``: the exact parameter count of the official code at 1000 classes and 224x224 when
    ``params_exact`` (a correct build equals it to the parameter), else the published rounded count.
    ``official_macs``: G multiply-accumulates of the official code's forward pass (what the papers call
    FLOPs), the reference our count must match within 1%. ``macs``: the published G MACs, if any.
    ``top1``: ImageNet-1k validation top-1 in percent under ``regime``, as reported by ``source``.
    ``params_discrepancy``: why a faithful build of the published configuration cannot reach the published
    rounded count, when it cannot (the test then checks that the gap is still the documented one).
    """

    params: int | None = None
    params_exact: bool = False
    params_discrepancy: str = ""
    macs: float | None = None
    official_macs: float | None = None
    top1: float | None = None
    regime: str = ""
    source: str = ""


@dataclass(frozen=True)
class ModelEntry:
    """One registered variant."""

    name: str
    family: str
    builder: Callable[..., nn.Module]
    pretrained_cfg: PretrainedCfg
    published: Published
    # Overrides that shrink the variant to a few thousand parameters for the contract tests.
    tiny: dict = field(default_factory=dict)
    # The architecture arguments a table-registered variant passes to its model class.
    arch: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str | None = None,
    *,
    family: str,
    pretrained_cfg: PretrainedCfg | None = None,
    published: Published | None = None,
    tiny: dict | None = None,
):
    """Decorator that registers ``fn(**kwargs) -> nn.Module`` as a variant (its own name unless given)."""

    def decorator(fn: Callable[..., nn.Module]):
        key = name or fn.__name__
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} is registered twice")
        _REGISTRY[key] = ModelEntry(
            name=key,
            family=family,
            builder=fn,
            pretrained_cfg=pretrained_cfg or PretrainedCfg(),
            published=published or Published(),
            tiny=dict(tiny or {}),
        )
        return fn

    return decorator


def register_variant(
    name: str,
    model_cls: type[nn.Module],
    arch: dict,
    *,
    family: str,
    pretrained_cfg: PretrainedCfg | None = None,
    published: Published | None = None,
    tiny: dict | None = None,
) -> None:
    """Register a variant as data: ``model_cls(**arch, **user_kwargs)``.

    User keyword arguments override ``arch``; the builder's signature is the class's, so
    ``create_model`` can reject unknown arguments by name.
    """

    def builder(**kwargs):
        return model_cls(**{**arch, **kwargs})

    builder.__signature__ = inspect.signature(model_cls)
    builder.__doc__ = f"{name}: {model_cls.__name__}({', '.join(f'{k}={v!r}' for k, v in arch.items())})"
    register_model(name, family=family, pretrained_cfg=pretrained_cfg, published=published, tiny=tiny)(builder)
    _REGISTRY[name] = replace(_REGISTRY[name], arch=dict(arch))


_SPEC_KEYS = {"arch", "published", "weights", "cfg"}


def register_variants(
    model_cls: type[nn.Module],
    variants: dict[str, dict],
    *,
    family: str,
    pretrained_cfg: PretrainedCfg | None = None,
    tiny: dict | None = None,
) -> None:
    """Register a family's table of variants, each a keyword dict in one place: ``arch`` (the model class's
    arguments), ``published`` (its figures), ``weights`` (its official files, preferred first) and ``cfg``
    (the :class:`PretrainedCfg` fields where it differs from the family's ``pretrained_cfg``)."""
    base = pretrained_cfg or PretrainedCfg()
    for name, spec in variants.items():
        unknown = set(spec) - _SPEC_KEYS
        if unknown or "arch" not in spec:
            raise ValueError(
                f"variant {name}: a spec has the keys {sorted(_SPEC_KEYS)} ('arch' required), got {sorted(spec)}"
            )
        cfg = replace(base, **spec.get("cfg", {}), weights=tuple(spec.get("weights", ())))
        register_variant(name, model_cls, spec["arch"], family=family, pretrained_cfg=cfg,
                         published=spec.get("published"), tiny=tiny)  # fmt: skip


SMALL_INPUTS = {
    28: dict(chans=1, mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD),  # Fashion-MNIST
    32: dict(chans=3, mean=CIFAR_MEAN, std=CIFAR_STD),  # CIFAR-10/100
}


def register_small_variants(
    prefix: str,
    model_cls: type[nn.Module],
    arch: dict,
    *,
    family: str,
    tiny: dict | None = None,
    per_size: dict[int, dict] | None = None,
    any_size: bool = False,
) -> None:
    """Register ``<prefix>_28`` (1x28x28, Fashion-MNIST statistics) and ``<prefix>_32`` (3x32x32, CIFAR),
    both with 10 classes and no crop: the CPU-trainable variants every family has.

    ``per_size`` adds arguments that depend on the input side (e.g. a token grid); ``any_size`` marks
    families whose weights are not tied to the input size.
    """
    for size, data in SMALL_INPUTS.items():
        register_variant(
            f"{prefix}_{size}",
            model_cls,
            dict(arch, img_size=size, in_chans=data["chans"], num_classes=10, **(per_size or {}).get(size, {})),
            family=family,
            tiny=tiny,
            pretrained_cfg=PretrainedCfg(
                input_size=(data["chans"], size, size),
                mean=data["mean"],
                std=data["std"],
                crop_pct=1.0,
                num_classes=10,
                fixed_input_size=not any_size,
            ),  # fmt: skip
        )


def list_models(pattern: str = "*", family: str | None = None) -> list[str]:
    """Registered names matching a shell-style ``pattern`` (and ``family``), sorted."""
    names = [n for n, e in _REGISTRY.items() if family is None or e.family == family]
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def list_families() -> list[str]:
    return sorted({e.family for e in _REGISTRY.values()})


def get_entry(name: str) -> ModelEntry:
    """The registry entry for ``name``; an unknown name raises with the closest matches (all of them when
    nothing is close), on one line short enough to read."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.5)
        hint = f"Did you mean {', '.join(close)}?" if close else f"Valid names: {', '.join(sorted(_REGISTRY))}."
        raise ValueError(f"unknown model {name!r}. {hint} `visionmlp list-models` lists them all.") from None


def variant_arguments(name: str) -> dict:
    """Every architecture argument of variant ``name`` with its value: the model class's defaults, overridden
    by what the variant passes (not only the overrides, so a reader sees the whole configuration)."""
    entry = get_entry(name)
    params = inspect.signature(entry.builder).parameters.values()
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    return {**defaults, **entry.arch}


def with_input(cfg: PretrainedCfg, in_chans: int, img_size: tuple[int, int], num_classes: int) -> PretrainedCfg:
    """The config a built model actually has after its input/classes were overridden."""
    if (in_chans, *img_size) == tuple(cfg.input_size) and num_classes == cfg.num_classes:
        return cfg
    mean, std = cfg.mean, cfg.std
    if in_chans != len(mean):
        mean = (sum(mean) / len(mean),) * in_chans
        std = (sum(std) / len(std),) * in_chans
    return replace(cfg, input_size=(in_chans, *img_size), mean=mean, std=std, num_classes=num_classes)

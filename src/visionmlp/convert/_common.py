"""What every converter shares: the registry, a key reader that notices unused keys, and the model check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


class StateDictMismatchError(ValueError):
    """A state dict does not fit: names every missing, unexpected and mis-shaped entry."""

    def __init__(self, source: str, missing=(), unexpected=(), misshaped=()):
        self.missing, self.unexpected, self.misshaped = list(missing), list(unexpected), list(misshaped)
        parts = []
        if self.missing:
            parts.append(f"missing {len(self.missing)}: {', '.join(self.missing[:12])}")
        if self.unexpected:
            parts.append(f"unexpected {len(self.unexpected)}: {', '.join(self.unexpected[:12])}")
        if self.misshaped:
            shown = ", ".join(f"{k} {tuple(a)} vs expected {tuple(b)}" for k, a, b in self.misshaped[:12])
            parts.append(f"mis-shaped {len(self.misshaped)}: {shown}")
        super().__init__(f"{source} does not match: " + "; ".join(parts))


class KeyReader:
    """Read a foreign state dict key by key; :meth:`finish` raises if any key was never read.

    A converter that forgets a tensor is a converter that silently drops weights, so every converter
    reads through this and ends with ``finish()``.
    """

    def __init__(self, state: dict[str, torch.Tensor], source: str):
        self.state = state
        self.source = source
        self.used: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self.state

    def keys(self, prefix: str = "") -> list[str]:
        return [k for k in self.state if k.startswith(prefix)]

    def take(self, key: str) -> torch.Tensor:
        if key not in self.state:
            raise StateDictMismatchError(self.source, missing=[key])
        self.used.add(key)
        return self.state[key]

    def move(self, out: dict, src: str, dst: str, names=("weight", "bias")) -> None:
        """``out[f"{dst}.{name}"] = take(f"{src}.{name}")`` for each of ``names``: a module renamed as it is."""
        for name in names:
            out[f"{dst}.{name}"] = self.take(f"{src}.{name}")

    def skip(self, key: str) -> None:
        """Mark a key as deliberately unused (e.g. a buffer the model recomputes)."""
        self.take(key)

    def finish(self) -> None:
        left = sorted(set(self.state) - self.used)
        if left:
            raise StateDictMismatchError(self.source, unexpected=left)


@dataclass(frozen=True)
class Converter:
    """A registered foreign format."""

    name: str
    fn: Callable[..., dict[str, torch.Tensor]]
    families: tuple[str, ...]
    description: str
    # Keyword arguments the model needs to compute what the original computes (e.g. tanh GELU).
    model_kwargs: dict


CONVERTERS: dict[str, Converter] = {}


def register_converter(name: str, *, families: tuple[str, ...], description: str, model_kwargs: dict | None = None):
    """Decorator registering ``fn(state: dict) -> dict`` as the converter for format ``name``."""

    def decorator(fn):
        if name in CONVERTERS:
            raise ValueError(f"converter {name!r} is registered twice")
        CONVERTERS[name] = Converter(name, fn, tuple(families), description, dict(model_kwargs or {}))
        return fn

    return decorator


def get_converter(name: str) -> Converter:
    try:
        return CONVERTERS[name]
    except KeyError:
        raise ValueError(
            f"unknown checkpoint format {name!r}; valid formats: {', '.join(sorted(CONVERTERS))}"
        ) from None


def convert_state_dict(fmt: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Convert ``state`` from the foreign format ``fmt`` to visionmlp's keys and layouts."""
    return get_converter(fmt).fn(state)


def check_against_model(model: nn.Module, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
    """Raise :class:`StateDictMismatchError` unless ``state`` has exactly the model's keys and shapes."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = [
        (k, state[k].shape, expected[k].shape)
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k].shape
    ]
    if missing or unexpected or misshaped:
        raise StateDictMismatchError(source, missing, unexpected, misshaped)


def load_converted(model: nn.Module, state: dict[str, torch.Tensor], source: str = "state dict") -> nn.Module:
    """Check ``state`` against ``model`` by name and shape, then load it strictly."""
    check_against_model(model, state, source)
    model.load_state_dict(state, strict=True)
    return model

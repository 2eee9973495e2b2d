"""timm's ``mlp_mixer.py`` state dicts (Mixer, ResMLP, gMLP) -> visionmlp.

visionmlp's Mixer, ResMLP and gMLP use timm's submodule names, so keys pass through unchanged; the one
layout difference is timm's ResMLP Affine, stored ``(1, 1, dim)`` where visionmlp keeps the official
``(dim,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ._blocks import count_blocks
from ._common import KeyReader, register_converter

_MIXER_BLOCK = (
    "norm1.weight",
    "norm1.bias",
    "mlp_tokens.fc1.weight",
    "mlp_tokens.fc1.bias",
    "mlp_tokens.fc2.weight",
    "mlp_tokens.fc2.bias",
    "norm2.weight",
    "norm2.bias",
    "mlp_channels.fc1.weight",
    "mlp_channels.fc1.bias",
    "mlp_channels.fc2.weight",
    "mlp_channels.fc2.bias",
)
_RESMLP_BLOCK = (
    "norm1.alpha",
    "norm1.beta",
    "linear_tokens.weight",
    "linear_tokens.bias",
    "ls1",
    "norm2.alpha",
    "norm2.beta",
    "mlp_channels.fc1.weight",
    "mlp_channels.fc1.bias",
    "mlp_channels.fc2.weight",
    "mlp_channels.fc2.bias",
    "ls2",
)
_GMLP_BLOCK = (
    "norm.weight",
    "norm.bias",
    "mlp_channels.fc1.weight",
    "mlp_channels.fc1.bias",
    "mlp_channels.gate.norm.weight",
    "mlp_channels.gate.norm.bias",
    "mlp_channels.gate.proj.weight",
    "mlp_channels.gate.proj.bias",
    "mlp_channels.fc2.weight",
    "mlp_channels.fc2.bias",
)


def _read(
    state: dict[str, torch.Tensor],
    fmt: str,
    block_keys: tuple[str, ...],
    final_norm: tuple[str, str],
    layout: Callable[[str, torch.Tensor], torch.Tensor] = lambda key, t: t,
) -> dict[str, torch.Tensor]:
    """Take the stem, every block's ``block_keys``, the final norm and (if present) the head."""
    reader = KeyReader(state, f"{fmt} state dict")
    keys = ["stem.proj.weight", "stem.proj.bias"]
    keys += [f"blocks.{i}.{k}" for i in range(count_blocks(reader, "blocks.")) for k in block_keys]
    keys += [f"norm.{name}" for name in final_norm]
    if reader.keys("head."):  # absent when the model was built without a classifier
        keys += ["head.weight", "head.bias"]
    out = {key: layout(key, reader.take(key)) for key in keys}
    reader.finish()
    return out


@register_converter(
    "timm_mixer", families=("mixer",), description="timm MlpMixer (mixer_*) state dicts, e.g. the HF hub weights"
)
def convert_timm_mixer(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return _read(state, "timm_mixer", _MIXER_BLOCK, ("weight", "bias"))


def _affine_to_vector(key: str, t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1) if key.endswith((".alpha", ".beta")) else t


@register_converter(
    "timm_resmlp",
    families=("resmlp",),
    description="timm ResMLP (resmlp_*: MlpMixer with ResBlock + Affine) state dicts, e.g. the HF hub weights",
)
def convert_timm_resmlp(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return _read(state, "timm_resmlp", _RESMLP_BLOCK, ("alpha", "beta"), _affine_to_vector)


@register_converter(
    "timm_gmlp",
    families=("gmlp",),
    description="timm gMLP (gmlp_*: MlpMixer with SpatialGatingBlock + GatedMlp) state dicts, e.g. gmlp_s16_224",
)
def convert_timm_gmlp(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return _read(state, "timm_gmlp", _GMLP_BLOCK, ("weight", "bias"))

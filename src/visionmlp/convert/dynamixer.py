"""Official DynaMixer (ziyuwwang/DynaMixer ``models/vision_model.py``) state dicts -> visionmlp ``dynamixer``."""

from __future__ import annotations

import torch

from ._common import register_converter
from ._permutator import REWEIGHT_PARAMS, convert_permutator

_MIXER_PARAMS = (
    tuple(
        f"{op}.{layer}.{p}"
        for op in ("mix_h", "mix_w")
        for layer in ("compress", "generate", "out")
        for p in ("weight", "bias")
    )
    + REWEIGHT_PARAMS
)


@register_converter(
    "dynamixer",
    families=("dynamixer",),
    description="official DynaMixer (ziyuwwang/DynaMixer): network.{k}.{b}.attn.* -> stages.*",
)
def convert_dynamixer(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename only: every tensor keeps its layout (the official ``attn`` is our ``mixer``)."""
    return convert_permutator(state, "official DynaMixer state dict", _MIXER_PARAMS)

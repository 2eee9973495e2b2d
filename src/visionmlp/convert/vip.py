"""Official Vision Permutator (Andrew-Qibin/VisionPermutator ``models/vip.py``) state dicts -> visionmlp ``vip``."""

from __future__ import annotations

import torch

from ._common import register_converter
from ._permutator import REWEIGHT_PARAMS, convert_permutator

_MIXER_PARAMS = ("mlp_h.weight", "mlp_w.weight", *REWEIGHT_PARAMS)


@register_converter(
    "vip",
    families=("vip",),
    description="official Vision Permutator (Andrew-Qibin/VisionPermutator): network.{k}.{b}.attn.* -> stages.*",
)
def convert_vip(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename only: every tensor keeps its layout (the official ``attn`` is our ``mixer``)."""
    return convert_permutator(state, "official ViP state dict", _MIXER_PARAMS)

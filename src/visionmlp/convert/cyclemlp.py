"""Official CycleMLP state dicts (ShoufaChen/CycleMLP ``cycle_mlp.py``, ``CycleNet``) -> visionmlp ``cyclemlp``.

The official network is ViP's (``network.{k}`` slots of blocks and Downsamples), so the key walk is the
permutator one: ``patch_embed.proj`` -> ``stem``, ``attn`` -> ``mixer``. Every tensor keeps its layout
(Cycle FC weights stay ``(out, in, 1, 1)``). The one extra is each Cycle FC's ``offset`` buffer: it is not
learned but fixed by the layer's shape, and visionmlp rebuilds it, so the converter checks it against the
rebuilt table instead of loading it: a file whose offsets differ computes another function, and says so.
"""

from __future__ import annotations

import torch

from ..layers.shift import cycle_offsets
from ._common import register_converter
from ._permutator import REWEIGHT_PARAMS, convert_permutator

_MIXER_PARAMS = ("sfc_h.weight", "sfc_h.bias", "sfc_w.weight", "sfc_w.bias", *REWEIGHT_PARAMS)
# Cycle FC's kernel per branch: sfc_h is 1 x 3 (it moves along W), sfc_w is 3 x 1 (along H).
_KERNELS = {"sfc_h": (1, 3), "sfc_w": (3, 1)}


@register_converter(
    "cyclemlp",
    families=("cyclemlp",),
    description="official CycleMLP (ShoufaChen/CycleMLP, CycleMLP_B1..B5 .pth): network.{k}.{b}.attn.* -> stages.*",
)
def convert_cyclemlp(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    source = "official CycleMLP state dict"
    state = dict(state)
    for key in [k for k in state if k.rsplit(".", 2)[-2:] in (["sfc_h", "offset"], ["sfc_w", "offset"])]:
        weight = state.get(key[: -len("offset")] + "weight")
        channels = weight.shape[1] if weight is not None else state[key].numel() // 2
        _check_offset(key, state.pop(key), channels, source)
    return convert_permutator(state, source, _MIXER_PARAMS, stem="stem")


def _check_offset(key: str, offset: torch.Tensor, channels: int, source: str) -> None:
    """The official buffer is ``(1, 2C, 1, 1)`` of (dy, dx) pairs, C the layer's input channels; it must be
    Cycle FC's fixed pattern."""
    expected = cycle_offsets(channels, _KERNELS[key.split(".")[-2]]).reshape(1, 2 * channels, 1, 1)
    if offset.shape != expected.shape:
        raise ValueError(f"{source}: {key} has shape {tuple(offset.shape)}, expected {tuple(expected.shape)}")
    if not torch.equal(offset.to(expected.dtype), expected):
        raise ValueError(
            f"{source}: {key} is not Cycle FC's fixed offset pattern (channel c reads (c + 1) % 3 - 1 along its "
            "axis); this file's Cycle FC computes another function and cannot be converted"
        )

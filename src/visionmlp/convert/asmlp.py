"""Official AS-MLP state dicts (svip-lab/AS-MLP ``models/as_mlp.py``, ``AS_MLP``) -> visionmlp ``asmlp``.

Only names change, and one index: ``patch_embed`` -> ``stem``, ``layers.{i}`` -> ``stages.{i}``, and the
patch merging that ends official stage ``i`` (``layers.{i}.downsample``) starts ``stages.{i+1}`` here. Every
layout is already PyTorch's (1x1 convs ``(out, in, 1, 1)``, GroupNorm ``(C,)``). Whether the axial-shift
convs have biases (the official ``as_bias``) is read off the keys.
"""

from __future__ import annotations

import functools

import torch

from ._blocks import count_blocks
from ._common import KeyReader, register_converter

_NORMS = ("norm1", "norm2", "axial_shift.norm1", "axial_shift.norm2")
_MLP = ("mlp.fc1", "mlp.fc2")
_SHIFT_CONVS = ("axial_shift.conv1", "axial_shift.conv2_1", "axial_shift.conv2_2", "axial_shift.conv3")


@register_converter(
    "asmlp",
    families=("asmlp",),
    description="official AS-MLP (svip-lab/AS-MLP, asmlp_tiny/small/base .pth): layers.{i}.* -> stages.*",
)
def convert_asmlp(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    reader = KeyReader(state, "official AS-MLP state dict")
    out: dict[str, torch.Tensor] = {}
    move = functools.partial(reader.move, out)
    move("patch_embed.proj", "stem.proj")
    move("patch_embed.norm", "stem.norm")
    shift_params = ("weight", "bias") if "layers.0.blocks.0.axial_shift.conv1.bias" in reader else ("weight",)
    num_stages = count_blocks(reader, "layers.")
    for i in range(num_stages):
        for j in range(count_blocks(reader, f"layers.{i}.blocks.")):
            src, dst = f"layers.{i}.blocks.{j}", f"stages.{i}.blocks.{j}"
            for name in _NORMS + _MLP:
                move(f"{src}.{name}", f"{dst}.{name}")
            for name in _SHIFT_CONVS:
                move(f"{src}.{name}", f"{dst}.{name}", shift_params)
        if i + 1 < num_stages:  # the last stage merges nothing
            move(f"layers.{i}.downsample.norm", f"stages.{i + 1}.downsample.norm")
            move(f"layers.{i}.downsample.reduction", f"stages.{i + 1}.downsample.reduction", ("weight",))
    move("norm", "norm")
    if reader.keys("head."):  # absent when the model was built without a classifier
        move("head", "head")
    reader.finish()
    return out

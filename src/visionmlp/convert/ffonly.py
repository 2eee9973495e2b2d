"""Official feed-forward-only ViT checkpoints (lukemelas/do-you-even-need-attention) -> ``ff_only``.

The official ``LinearVisionTransformer`` keeps its block names (``mlp1``/``norm1`` over channels,
``mlp2``/``norm2`` over tokens); only the stem and the position tables move:
``patch_embed.proj`` -> ``stem.proj``, ``pos_encoding.{pos_embed, cls_pos_embed}`` -> top level.
"""

from __future__ import annotations

import torch

from ._blocks import count_blocks
from ._common import KeyReader, register_converter

_BLOCK_LAYERS = ("mlp1.fc1", "mlp1.fc2", "norm1", "mlp2.fc1", "mlp2.fc2", "norm2")


@register_converter(
    "ffonly",
    families=("ff_only",),
    description="official FF-only ViT (lukemelas/do-you-even-need-attention, vision_transformer_linear.py)",
)
def convert_ffonly(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    reader = KeyReader(state, "ffonly checkpoint")
    out = {
        "cls_token": reader.take("cls_token"),
        "pos_embed": reader.take("pos_encoding.pos_embed"),
        "cls_pos_embed": reader.take("pos_encoding.cls_pos_embed"),
    }
    for p in ("weight", "bias"):
        out[f"stem.proj.{p}"] = reader.take(f"patch_embed.proj.{p}")
        out[f"norm.{p}"] = reader.take(f"norm.{p}")
        if f"head.{p}" in reader:  # absent when the official model was built with num_classes=0
            out[f"head.{p}"] = reader.take(f"head.{p}")
    for i in range(count_blocks(reader, "blocks.")):
        for layer in _BLOCK_LAYERS:
            for p in ("weight", "bias"):
                key = f"blocks.{i}.{layer}.{p}"
                out[key] = reader.take(key)
    reader.finish()
    return out

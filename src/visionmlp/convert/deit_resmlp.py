"""The official ResMLP state dicts (``facebookresearch/deit: resmlp_models.py``) -> visionmlp ResMLP.

Only names change: ``patch_embed`` -> ``stem``, the cross-patch ``attn`` -> ``linear_tokens``,
``mlp`` -> ``mlp_channels``, LayerScale ``gamma_1/2`` -> ``ls1/2``; Affine and LayerScale tensors are
``(dim,)`` on both sides.
"""

from __future__ import annotations

import torch

from ._blocks import count_blocks
from ._common import KeyReader, register_converter

# (official name, visionmlp name) inside blocks.{i}.
_BLOCK = (
    ("norm1.alpha", "norm1.alpha"),
    ("norm1.beta", "norm1.beta"),
    ("attn.weight", "linear_tokens.weight"),
    ("attn.bias", "linear_tokens.bias"),
    ("gamma_1", "ls1"),
    ("norm2.alpha", "norm2.alpha"),
    ("norm2.beta", "norm2.beta"),
    ("mlp.fc1.weight", "mlp_channels.fc1.weight"),
    ("mlp.fc1.bias", "mlp_channels.fc1.bias"),
    ("mlp.fc2.weight", "mlp_channels.fc2.weight"),
    ("mlp.fc2.bias", "mlp_channels.fc2.bias"),
    ("gamma_2", "ls2"),
)


@register_converter(
    "deit_resmlp",
    families=("resmlp",),
    description="official ResMLP checkpoints of facebookresearch/deit (resmlp_12/24/36, resmlpB_24 .pth state dicts)",
)
def convert_deit_resmlp(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    reader = KeyReader(state, "deit_resmlp state dict")
    out = {
        "stem.proj.weight": reader.take("patch_embed.proj.weight"),
        "stem.proj.bias": reader.take("patch_embed.proj.bias"),
    }
    for i in range(count_blocks(reader, "blocks.")):
        for src, dst in _BLOCK:
            out[f"blocks.{i}.{dst}"] = reader.take(f"blocks.{i}.{src}")
    for key in ("norm.alpha", "norm.beta"):
        out[key] = reader.take(key)
    if reader.keys("head."):  # absent when the model was built without a classifier
        out["head.weight"] = reader.take("head.weight")
        out["head.bias"] = reader.take("head.bias")
    reader.finish()
    return out

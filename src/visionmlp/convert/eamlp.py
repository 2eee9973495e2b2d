"""Official EAMLP checkpoints (MenghaoGuo/EANet, ``EAMLP/models/t2t_vit.py``) -> ``eamlp``.

Names are kept, with one exception: in the tokenizer's token layers the value memory
``attn.linear_1.weight`` is the transpose of the key memory ``attn.linear_0.weight`` (shared storage in
the official module), and visionmlp stores that tie once, as ``linear_0.weight``. Checkpoints saved from
an untied copy (an EMA model) may hold two different tensors; the official code, loading them into its
tied module, keeps the last one copied, so ``linear_0 := linear_1.T`` here too.
"""

from __future__ import annotations

import torch

from ._blocks import count_blocks
from ._common import KeyReader, StateDictMismatchError, register_converter

_TOKEN_LAYER = ("norm1", "attn.q_linear", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")
_BLOCK = ("norm1", "attn.trans_dims", "attn.linear_0", "attn.linear_1", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")


def _copy(reader: KeyReader, out: dict, prefix: str, layers) -> None:
    for layer in layers:
        for p in ("weight", "bias"):
            key = f"{prefix}{layer}.{p}"
            out[key] = reader.take(key)


@register_converter(
    "eamlp",
    families=("eamlp",),
    description="official EAMLP / T2T-ViT with external attention (MenghaoGuo/EANet, EAMLP/models/t2t_vit.py)",
)
def convert_eamlp(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    reader = KeyReader(state, "eamlp checkpoint")
    out = {"cls_token": reader.take("cls_token"), "pos_embed": reader.take("pos_embed")}
    for i in (1, 2):
        prefix = f"tokens_to_token.attention{i}."
        _copy(reader, out, prefix, _TOKEN_LAYER)
        key_memory = reader.take(f"{prefix}attn.linear_0.weight")
        value_memory = reader.take(f"{prefix}attn.linear_1.weight")
        if value_memory.shape != key_memory.shape[::-1]:
            raise StateDictMismatchError(
                reader.source,
                misshaped=[(f"{prefix}attn.linear_1.weight", value_memory.shape, key_memory.shape[::-1])],
            )
        out[f"{prefix}attn.linear_0.weight"] = value_memory.t().contiguous()  # re-tie: linear_0 := linear_1.T
        out[f"{prefix}attn.linear_1.bias"] = reader.take(f"{prefix}attn.linear_1.bias")
    _copy(reader, out, "tokens_to_token.", ("project",))
    for i in range(count_blocks(reader, "blocks.")):
        _copy(reader, out, f"blocks.{i}.", _BLOCK)
    _copy(reader, out, "", ("norm",))
    if "head.weight" in reader:  # absent when the official model was built with num_classes=0
        _copy(reader, out, "", ("head",))
    reader.finish()
    return out

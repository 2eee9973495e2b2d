"""Key walk shared by the ViP, DynaMixer and CycleMLP converters (their official networks have one layout).

Official keys: ``patch_embed.proj``, ``network.{k}.{b}.{norm1, attn.*, norm2, mlp.fc1/fc2}`` for a stage's
blocks and ``network.{k}.proj`` for a Downsample, where ``k`` counts both kinds of slot in order; ``norm``,
``head``. visionmlp: ``stem.proj``, ``stages.{i}.blocks.{b}.{norm1, mixer.*, norm2, mlp.*}``,
``stages.{i}.downsample.proj`` (the Downsample after official stage ``i - 1``), ``norm``, ``head``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._common import KeyReader, StateDictMismatchError

_BLOCK_PARAMS = ("norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias") + tuple(
    f"mlp.{fc}.{p}" for fc in ("fc1", "fc2") for p in ("weight", "bias")
)

# The split-attention parameters both mixers have: channel branch, re-weighting MLP, projection.
REWEIGHT_PARAMS = (
    "mlp_c.weight",
    "reweight.fc1.weight",
    "reweight.fc1.bias",
    "reweight.fc2.weight",
    "reweight.fc2.bias",
    "proj.weight",
    "proj.bias",
)


def convert_permutator(
    state: dict[str, torch.Tensor],
    source: str,
    mixer_params: Sequence[str],
    stem: str = "stem.proj",
) -> dict[str, torch.Tensor]:
    """Map an official ViP/DynaMixer/CycleMLP state dict; ``mixer_params`` are the names under each block's
    ``attn.`` (our ``mixer.``); the official ``patch_embed.proj`` becomes ``<stem>``."""
    reader = KeyReader(state, source)
    out = {f"{stem}.{p}": reader.take(f"patch_embed.proj.{p}") for p in ("weight", "bias")}
    slots = _indices(reader.keys("network."), 1)
    gaps = [f"network.{k}.*" for k in range(max(slots, default=0) + 1) if k not in slots]
    if gaps:
        raise StateDictMismatchError(source, missing=gaps)
    stage = -1
    for k in slots:
        if reader.keys(f"network.{k}.proj."):  # a Downsample: it opens the next stage
            for p in ("weight", "bias"):
                out[f"stages.{stage + 1}.downsample.proj.{p}"] = reader.take(f"network.{k}.proj.{p}")
            continue
        stage += 1
        for b in _indices(reader.keys(f"network.{k}."), 2):
            src, dst = f"network.{k}.{b}.", f"stages.{stage}.blocks.{b}."
            for p in _BLOCK_PARAMS:
                out[dst + p] = reader.take(src + p)
            for p in mixer_params:
                out[f"{dst}mixer.{p}"] = reader.take(f"{src}attn.{p}")
    names = ("norm", "head") if reader.keys("head.") else ("norm",)  # a headless (num_classes=0) model has none
    for name in names:
        for p in ("weight", "bias"):
            out[f"{name}.{p}"] = reader.take(f"{name}.{p}")
    reader.finish()
    return out


def _indices(keys: Sequence[str], pos: int) -> list[int]:
    """The distinct integers at dot-separated position ``pos`` of ``keys``, sorted (others are left unread)."""
    parts = (key.split(".") for key in keys)
    return sorted({int(p[pos]) for p in parts if len(p) > pos + 1 and p[pos].isdigit()})

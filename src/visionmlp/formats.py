"""Recognising an official checkpoint's format from its key names, never from its file name.

Each official implementation names its tensors its own way (``shared/specs/checkpoints.md``); a few
key patterns that only that implementation produces identify it. A visionmlp state dict matches none
of them unless its names coincide with an official scheme, in which case the loader tries it as
native first (see ``factory.py``).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

# format -> key patterns that must each match at least one key (shell-style, case-sensitive)
KEY_SCHEMES: dict[str, tuple[str, ...]] = {
    "flax_mixer": ("stem/kernel", "MixerBlock_*/token_mixing/Dense_0/kernel"),
    "deit_resmlp": ("patch_embed.proj.weight", "blocks.*.gamma_1", "blocks.*.attn.weight"),
    "timm_mixer": ("stem.proj.weight", "blocks.*.mlp_tokens.fc1.weight"),
    "timm_resmlp": ("stem.proj.weight", "blocks.*.linear_tokens.weight", "blocks.*.ls1"),
    "timm_gmlp": ("stem.proj.weight", "blocks.*.mlp_channels.gate.proj.weight"),
    "ffonly": ("pos_encoding.pos_embed", "blocks.*.mlp2.fc1.weight"),
    "eamlp": ("tokens_to_token.project.weight", "blocks.*.attn.trans_dims.weight"),
    "convmlp": ("tokenizer.block.0.weight", "stages.*.blocks.*.connect.weight"),
    "vip": ("patch_embed.proj.weight", "network.*.attn.mlp_h.weight", "network.*.attn.reweight.fc1.weight"),
    "dynamixer": ("patch_embed.proj.weight", "network.*.attn.mix_h.compress.weight"),
    "cyclemlp": ("patch_embed.proj.weight", "network.*.attn.sfc_h.weight", "network.*.attn.sfc_h.offset"),
    "asmlp": ("patch_embed.proj.weight", "layers.*.blocks.*.axial_shift.conv2_1.weight"),
}


def detect_format(keys) -> str | None:
    """The official format whose key scheme ``keys`` follow, or ``None`` if none matches.

    Raises if two schemes match, which would mean the table above is not specific enough.
    """
    keys = list(keys)
    hits = [fmt for fmt, patterns in KEY_SCHEMES.items() if all(_any_match(keys, p) for p in patterns)]
    if len(hits) > 1:
        raise ValueError(f"checkpoint keys match several official formats ({', '.join(hits)}); pass the format")
    return hits[0] if hits else None


def _any_match(keys: list[str], pattern: str) -> bool:
    return any(fnmatchcase(k, pattern) for k in keys)

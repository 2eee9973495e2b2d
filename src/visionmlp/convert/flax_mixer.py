"""The official Flax MLP-Mixer parameters (``google-research/vision_transformer``) -> visionmlp Mixer.

Keys are the ``/``-joined Flax parameter paths, as inside the released ``.npz`` checkpoints, so
``dict(numpy.load(path))`` converts as it is. Flax Dense kernels are ``(in, out)`` (transposed to
``(out, in)``), the stem kernel is HWIO (to OIHW), LayerNorm ``scale`` is ``weight``. The official GELU
is Flax's tanh approximation, hence ``gelu_approximate="tanh"`` for the model.
"""

from __future__ import annotations

import numpy as np
import torch

from ._blocks import count_blocks
from ._common import KeyReader, register_converter

# (Flax sub-path inside MixerBlock_{i}, visionmlp name inside blocks.{i})
_BLOCK = (
    ("LayerNorm_0", "norm1"),
    ("token_mixing/Dense_0", "mlp_tokens.fc1"),
    ("token_mixing/Dense_1", "mlp_tokens.fc2"),
    ("LayerNorm_1", "norm2"),
    ("channel_mixing/Dense_0", "mlp_channels.fc1"),
    ("channel_mixing/Dense_1", "mlp_channels.fc2"),
)


def _tensor(value) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value))


@register_converter(
    "flax_mixer",
    families=("mixer",),
    description="official Flax MLP-Mixer parameters (gs://mixer_models/*.npz; '/'-joined parameter paths)",
    model_kwargs={"gelu_approximate": "tanh"},
)
def convert_flax_mixer(state: dict) -> dict[str, torch.Tensor]:
    reader = KeyReader(state, "flax_mixer parameters")
    out = {}

    def dense(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = _tensor(reader.take(f"{src}/kernel")).T.contiguous()  # (in, out) -> (out, in)
        out[f"{dst}.bias"] = _tensor(reader.take(f"{src}/bias"))

    def layer_norm(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = _tensor(reader.take(f"{src}/scale"))
        out[f"{dst}.bias"] = _tensor(reader.take(f"{src}/bias"))

    out["stem.proj.weight"] = _tensor(reader.take("stem/kernel")).permute(3, 2, 0, 1).contiguous()  # HWIO -> OIHW
    out["stem.proj.bias"] = _tensor(reader.take("stem/bias"))
    for i in range(count_blocks(reader, "MixerBlock_")):
        for src, dst in _BLOCK:
            convert = layer_norm if src.startswith("LayerNorm") else dense
            convert(f"MixerBlock_{i}/{src}", f"blocks.{i}.{dst}")
    layer_norm("pre_head_layer_norm", "norm")
    if reader.keys("head/"):  # absent when the model was built without a classifier
        dense("head", "head")
    reader.finish()
    return out

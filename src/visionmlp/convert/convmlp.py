"""Official ConvMLP state dicts (SHI-Labs/Convolutional-MLPs, ``src/convmlp.py``) -> visionmlp ``convmlp_*``.

Only names change: the official ``nn.Sequential`` indices of the tokenizer (``tokenizer.block.{0,3,6}``
convs, ``{1,4,7}`` BatchNorms) and of the conv-stage bottlenecks become ``conv{1,2,3}``/``bn{1,2,3}``;
``channel_mlp{1,2}`` -> ``mlp{1,2}``, ``connect_norm``/``connect`` -> ``dw_norm``/``dwconv``,
``downsample_mlp.downsample`` -> ``downsample``. Every layout is already PyTorch's. The depths and widths
are read off the keys, so one function serves S, M, L and any other configuration.
"""

from __future__ import annotations

import functools

import torch

from ._blocks import count_blocks
from ._common import KeyReader, register_converter

_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
# Official Sequential index -> our name, for the tokenizer and each conv-stage bottleneck.
_CONV_BN = {"0": "conv1", "1": "bn1", "3": "conv2", "4": "bn2", "6": "conv3", "7": "bn3"}
_BLOCK = {
    "norm1": ("norm1", ("weight", "bias")),
    "channel_mlp1.fc1": ("mlp1.fc1", ("weight", "bias")),
    "channel_mlp1.fc2": ("mlp1.fc2", ("weight", "bias")),
    "connect_norm": ("dw_norm", ("weight", "bias")),
    "connect": ("dwconv", ("weight",)),
    "norm2": ("norm2", ("weight", "bias")),
    "channel_mlp2.fc1": ("mlp2.fc1", ("weight", "bias")),
    "channel_mlp2.fc2": ("mlp2.fc2", ("weight", "bias")),
}


@register_converter(
    "convmlp",
    families=("convmlp",),
    description="official SHI-Labs/Convolutional-MLPs state dict (convmlp_s/m/l .pth)",
)
def convert_convmlp(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    reader = KeyReader(state, "ConvMLP state dict")
    out: dict[str, torch.Tensor] = {}
    move = functools.partial(reader.move, out)

    def conv_bn_stack(src: str, dst: str) -> None:
        for index, name in _CONV_BN.items():
            move(f"{src}.{index}", f"{dst}.{name}", ("weight",) if name.startswith("conv") else _BN)

    conv_bn_stack("tokenizer.block", "tokenizer")
    for i in range(count_blocks(reader, "conv_stages.conv_blocks.", may_be_empty=True)):
        conv_bn_stack(f"conv_stages.conv_blocks.{i}", f"conv_stage.blocks.{i}")
    move("conv_stages.downsample", "conv_stage.downsample", ("weight", "bias"))

    num_stages = count_blocks(reader, "stages.")
    for s in range(num_stages):
        for b in range(count_blocks(reader, f"stages.{s}.blocks.")):
            for src, (dst, names) in _BLOCK.items():
                move(f"stages.{s}.blocks.{b}.{src}", f"stages.{s}.blocks.{b}.{dst}", names)
        if s + 1 < num_stages:  # the last stage has no downsample
            move(f"stages.{s}.downsample_mlp.downsample", f"stages.{s}.downsample", ("weight", "bias"))

    move("norm", "norm", ("weight", "bias"))
    move("head", "head", ("weight", "bias"))
    reader.finish()
    return out

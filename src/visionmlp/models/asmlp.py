"""AS-MLP (Lian et al. 2021, arXiv 2107.08391; ICLR 2022).

A Swin-like four-stage pyramid whose token mixer is the axial shift: the channels are split into
``shift_size`` groups, group g is shifted by ``shift_size // 2 - g`` pixels along W in one branch and
along H in the other, and 1x1 convolutions mix the channels of each branch. Shifting grows the receptive
field to a cross of ``shift_size`` pixels per block with no weight tied to the grid, so any input size
works. Built as the official code (``svip-lab/AS-MLP`` ``models/as_mlp.py``): NCHW maps, 1x1 convs,
GroupNorm with one group as the norm everywhere; the official CuPy shift kernel is replaced by the same
zero-padded shift done with ``gather`` (``layers.shift``). Inputs whose sides are not multiples of the
patch size, and odd maps before a patch merging, are zero-padded at the bottom/right as in the Swin
detection backbones. Unlike the official code the maps are kept channels-last, (B, H, W, C), from the
stem to the final norm: the shift then needs no layout copy and every 1x1 conv runs oneDNN's channels-last
kernel (faster than both the NCHW conv and a matmul on CPU, in float32 and bfloat16); ``forward_features``
and the feature maps are returned as NCHW views. State-dict differences from the official code:
``layers.{i}`` -> ``stages.{i}``, ``layers.{i}.downsample`` -> ``stages.{i+1}.downsample`` (merging starts
the next stage here), and ``patch_embed`` -> ``stem``.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DropPath
from ..layers._helpers import to_2tuple
from ..layers.conv_nhwc import ConvNHWC
from ..layers.drop import Dropout, drop_path_rates
from ..layers.packed_linear import absorb_activation
from ..layers.shift import ChannelShift, axial_offsets
from ._base import VisionModel
from ._features import FeatureInfo
from ._registry import (
    PretrainedCfg,
    Published,
    WeightFile,
    register_small_variants,
    register_variants,
)


class GroupNormNHWC(nn.GroupNorm):
    """The official ``MyNorm`` (GroupNorm with one group: normalises over C, H and W per image) on a
    channels-last map (B, H, W, C). PyTorch's GroupNorm kernels take the channels-last NCHW view as it is."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def group_norm(dim: int) -> GroupNormNHWC:
    return GroupNormNHWC(1, dim)


def _pad_to_multiple(x: torch.Tensor, multiple: int, channels_last: bool) -> torch.Tensor:
    """Zero-pad a map at the bottom/right so that H and W are multiples of ``multiple``."""
    h_dim = 1 if channels_last else 2
    pad_h, pad_w = -x.shape[h_dim] % multiple, -x.shape[h_dim + 1] % multiple
    if not (pad_h or pad_w):
        return x
    return F.pad(x, (0, 0, 0, pad_w, 0, pad_h) if channels_last else (0, pad_w, 0, pad_h))


class PointwiseMlp(nn.Module):
    """The official channel MLP: Conv1x1 -> GELU -> Conv1x1 (names fc1/fc2), on (B, H, W, C) maps."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = ConvNHWC(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = ConvNHWC(hidden, dim, 1)
        self.drop = Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))

    def pack(self) -> PointwiseMlp:
        absorb_activation(self, "fc1", "act")
        return self


class AxialShift(nn.Module):
    """x = GELU(GN(conv1(x))); x = GELU(conv2_1(shift_W(x))) + GELU(conv2_2(shift_H(x))); conv3(GN(x)).

    The official code applies one ``actn`` module three times; here each branch has its own (GELU has no
    parameters, so the state dict is the official one), so that :meth:`pack` can hand the branches' GELUs to
    ``conv2_1`` and ``conv2_2`` as their GEMMs' post-ops."""

    def __init__(self, dim: int, shift_size: int, as_bias: bool = True):
        super().__init__()
        if shift_size < 1 or shift_size % 2 == 0:
            raise ValueError(f"shift_size must be a positive odd number, got {shift_size}")
        self.shift_size = shift_size
        self.conv1 = ConvNHWC(dim, dim, 1, bias=as_bias)
        self.conv2_1 = ConvNHWC(dim, dim, 1, bias=as_bias)
        self.conv2_2 = ConvNHWC(dim, dim, 1, bias=as_bias)
        self.conv3 = ConvNHWC(dim, dim, 1, bias=as_bias)
        self.actn = nn.GELU()
        self.act_lr, self.act_td = nn.GELU(), nn.GELU()
        self.norm1 = group_norm(dim)
        self.norm2 = group_norm(dim)
        self.shift_lr = ChannelShift(axial_offsets(dim, shift_size, axis=1))
        self.shift_td = ChannelShift(axial_offsets(dim, shift_size, axis=0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, H, W, C)
        x = self.actn(self.norm1(self.conv1(x)))
        x_lr = self.act_lr(self.conv2_1(self.shift_lr(x)))
        x_td = self.act_td(self.conv2_2(self.shift_td(x)))
        return self.conv3(self.norm2(x_lr + x_td))

    def pack(self) -> AxialShift:
        absorb_activation(self, "conv2_1", "act_lr")
        absorb_activation(self, "conv2_2", "act_td")
        return self

    def extra_repr(self) -> str:
        return f"shift_size={self.shift_size}"


class AxialShiftedBlock(nn.Module):
    """x += AxialShift(GN(x)); x += MLP(GN(x))."""

    def __init__(self, dim: int, shift_size: int, mlp_ratio: float, as_bias: bool, drop: float, drop_path: float):
        super().__init__()
        self.norm1 = group_norm(dim)
        self.axial_shift = AxialShift(dim, shift_size, as_bias)
        self.norm2 = group_norm(dim)
        self.mlp = PointwiseMlp(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.axial_shift(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """Concatenate each 2x2 neighbourhood's channels (official order x00, x10, x01, x11), GN, Conv1x1 to 2C."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = group_norm(4 * dim)
        self.reduction = ConvNHWC(4 * dim, 2 * dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pad_to_multiple(x, 2, channels_last=True)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x))  # (B, H/2, W/2, 4C) -> (B, H/2, W/2, 2C)


class NormedPatchEmbed(nn.Module):
    """Non-overlapping Conv patch x patch, then GroupNorm (the official ``patch_norm=True``): NCHW image in,
    (B, H, W, C) map out."""

    def __init__(self, patch_size: int, in_chans: int, dim: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)
        self.norm = group_norm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(_pad_to_multiple(x, self.patch_size, channels_last=False))
        return self.norm(x.permute(0, 2, 3, 1).contiguous())


class AsStage(nn.Module):
    def __init__(self, dim: int, depth: int, downsample: bool, dpr: list[float], **block_kwargs):
        super().__init__()
        self.downsample = PatchMerging(dim // 2) if downsample else nn.Identity()
        self.blocks = nn.Sequential(*[AxialShiftedBlock(dim, drop_path=dpr[j], **block_kwargs) for j in range(depth)])


class ASMLP(VisionModel):
    """AS-MLP with the official hyper-parameter names (``embed_dim``, ``depths``, ``shift_size``,
    ``mlp_ratio``, ``as_bias``). Stage i has ``embed_dim * 2**i`` channels at stride ``patch_size * 2**i``.
    ``forward_features`` returns the normalised map of the last stage as an NCHW view (channels-last memory).
    """

    def __init__(
        self,
        embed_dim: int = 96,
        depths=(2, 2, 6, 2),
        shift_size: int = 5,
        mlp_ratio: float = 4.0,
        as_bias: bool = True,
        patch_size: int = 4,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.in_chans = in_chans
        self.img_size = to_2tuple(img_size)
        self.fixed_img_size = None  # the shift has no weight tied to the grid
        self.stem = NormedPatchEmbed(patch_size, in_chans, embed_dim)
        self.pos_drop = Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, sum(depths))
        self.stages = nn.ModuleList(
            AsStage(
                embed_dim * 2**i,
                depth,
                i > 0,
                dpr[sum(depths[:i]) : sum(depths[: i + 1])],
                shift_size=shift_size,
                mlp_ratio=mlp_ratio,
                as_bias=as_bias,
                drop=drop_rate,
            )
            for i, depth in enumerate(depths)
        )
        self.norm = group_norm(self.num_features)
        self.feature_info = FeatureInfo(
            {"num_chs": embed_dim * 2**i, "reduction": patch_size * 2**i, "module": f"stages.{i}"}
            for i in range(len(depths))
        )
        self.default_out_indices = tuple(range(len(depths)))
        self.head = self.build_head(num_classes)

    def init_head(self, head: nn.Linear) -> None:
        # Official ``_init_weights`` touches only nn.Linear (the head): timm's trunc_normal_(std=.02),
        # absolute +-2 bounds; every conv and GroupNorm keeps PyTorch's default init.
        nn.init.trunc_normal_(head.weight, std=0.02)
        nn.init.zeros_(head.bias)

    def _run_stage(self, stage: AsStage, x: torch.Tensor) -> torch.Tensor:
        return self.run_blocks(stage.blocks, stage.downsample(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        x = self.pos_drop(self.stem(x))
        for stage in self.stages:
            x = self._run_stage(stage, x)
        return self.norm(x).permute(0, 3, 1, 2)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))

    def forward_intermediates(self, x, indices):
        x = self.prepare_input(x)
        x = self.pos_drop(self.stem(x))
        out = []
        for i, stage in enumerate(self.stages[: indices[-1] + 1]):
            x = self._run_stage(stage, x)
            if i in indices:
                out.append(x.permute(0, 3, 1, 2))
        return out


_SRC = "svip-lab/AS-MLP README (ImageNet-1k, 224x224); params/MACs as published (rounded)"
_REGIME = "ImageNet-1k from scratch, 300 ep (Swin recipe)"
_TINY = dict(embed_dim=8, depths=(1, 1, 1, 1), mlp_ratio=2.0, img_size=64)
# The official test transform resizes to 256/224 of the crop (config TEST.CROP) with bicubic interpolation.
_IMAGENET_CFG = PretrainedCfg(crop_pct=0.875, fixed_input_size=False)

_published = partial(Published, regime=_REGIME, source=_SRC)
_ONEDRIVE = "https://shanghaitecheducn-my.sharepoint.com/:u:/g/personal/liandz_shanghaitech_edu_cn"


def _shared(size: str, page: str, top1: float) -> tuple[WeightFile, ...]:
    """The README's OneDrive share pages (opened in a browser, never downloaded), saved under the name the
    official test script uses."""
    name = f"asmlp_{size}_patch4_shift5_224.pth"
    return (WeightFile(f"{_ONEDRIVE}/{page}", name, "asmlp", tag="in1k", top1=top1, direct=False),)


# configs/as_{tiny,small,base}_patch4_shift5_224.yaml; their DROP_PATH_RATE (0.2/0.3/0.5) is a training
# setting, passed as drop_path_rate=... when training.
_VARIANTS = {
    "asmlp_t": dict(
        arch=dict(embed_dim=96, depths=(2, 2, 6, 2)),
        published=_published(params=28_280_000, macs=4.4, top1=81.3),
        weights=_shared("tiny", "Eb2lPJI2BshEjJxf9CmRkCUBnB63Wj25-FVVc6zJvgRg6w?e=dEQd5q", 81.3),
    ),
    "asmlp_s": dict(
        arch=dict(embed_dim=96, depths=(2, 2, 18, 2)),
        published=_published(params=49_600_000, macs=8.5, top1=83.1),
        weights=_shared("small", "EVIbw8xHKk1Aq9MBQL-cRbIBVJA_hJE-HEVNf_GVgkw2iQ?e=QIIp2e", 83.1),
    ),
    "asmlp_b": dict(
        arch=dict(embed_dim=128, depths=(2, 2, 18, 2)),
        published=_published(params=87_750_000, macs=15.2, top1=83.3),
        weights=_shared("base", "EZVBFW_LKctLqgrnnINy88wBRtGFava9wp_65emsvVW2KQ?e=clNjuw", 83.3),
    ),
}
register_variants(ASMLP, _VARIANTS, family="asmlp", pretrained_cfg=_IMAGENET_CFG, tiny=_TINY)

# Small AS-MLPs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): patch 2, so the four stages see
# 14 -> 7 -> 4 -> 2 (strides 2/4/8/16; 7 is padded to 8 before merging); AS-MLP-T's layout at width 32.
_SMALL = dict(embed_dim=32, depths=(2, 2, 4, 2), patch_size=2)
# The contract tests shrink the widths but keep the small variants' 28x28 / 32x32 inputs.
_SMALL_TINY = {k: v for k, v in _TINY.items() if k != "img_size"}
register_small_variants("asmlp_s4", ASMLP, _SMALL, family="asmlp", tiny=_SMALL_TINY, any_size=True)

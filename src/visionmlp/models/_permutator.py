"""The skeleton Vision Permutator and DynaMixer share (``vip.py``, ``dynamixer.py``).

Both official code bases (Andrew-Qibin/VisionPermutator ``models/vip.py``, ziyuwwang/DynaMixer
``models/vision_model.py``) build the same network around different token mixers: a Conv patch
embedding, stages of pre-LN blocks on a channels-last ``(B, H, W, C)`` map, a non-overlapping
convolution between stages when the stage downsamples (2x2, stride 2) or only changes width (1x1),
a final LayerNorm, mean pooling and a linear head. The token mixer mixes along the height, along the
width and across channels, and fuses the three branches with ViP's split-attention re-weighting;
only how the height and width branches mix differs between the two families.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..layers import DropPath, Mlp, PatchEmbed, trunc_normal_
from ..layers._helpers import to_2tuple
from ..layers.branch_sum import weighted_branch_sum
from ..layers.conv_nhwc import Downsample
from ..layers.drop import drop_path_rates
from ._base import VisionModel
from ._features import FeatureInfo

# The official code uses PyTorch's LayerNorm default.
NORM_EPS = 1e-5


class BranchReweightMixer(nn.Module):
    """Mix along H, along W and across C, then fuse the branches with split attention.

    ``a = softmax_branches(Mlp(mean_HW(h + w + c)))`` gives per-channel weights for the three branches in
    (h, w, c) order; ``out = proj(a_h * h + a_w * w + a_c * c)``. Subclasses implement
    :meth:`mix_height` and :meth:`mix_width` on a ``(B, H, W, C)`` map.
    """

    def __init__(self, dim: int, qkv_bias: bool = False):
        super().__init__()
        self.mlp_c = nn.Linear(dim, dim, bias=qkv_bias)
        self.reweight = Mlp(dim, dim // 4, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def mix_height(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def mix_width(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, H, W, C)
        b, _, _, c = x.shape
        h, w, ch = self.mix_height(x), self.mix_width(x), self.mlp_c(x)
        a = self.reweight((h + w + ch).mean(dim=(1, 2))).reshape(b, c, 3).softmax(dim=-1)
        return self.proj(weighted_branch_sum((h, w, ch), a.permute(2, 0, 1)))


class PermutatorBlock(nn.Module):
    """x += Mixer(LN(x)) / skip_lam ; x += ChannelMLP(LN(x)) / skip_lam."""

    def __init__(self, dim: int, mixer: nn.Module, mlp_ratio: float, drop_path: float, skip_lam: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.mixer = mixer
        self.norm2 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)
        self.skip_lam = skip_lam

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, H, W, C)
        x = x + self._branch(self.mixer(self.norm1(x)))
        return x + self._branch(self.mlp(self.norm2(x)))

    def _branch(self, y: torch.Tensor) -> torch.Tensor:
        y = self.drop_path(y)
        return y if self.skip_lam == 1 else y / self.skip_lam  # x / 1.0 is x: skip the pass over the map


class PermutatorStage(nn.Module):
    """An optional :class:`Downsample` from the previous stage, then the blocks."""

    def __init__(self, downsample: nn.Module | None, blocks: Sequence[nn.Module]):
        super().__init__()
        self.downsample = downsample
        self.blocks = nn.Sequential(*blocks)


# mixer factory: (stage index, width) -> a token mixer for that stage
MixerFactory = Callable[[int, int], nn.Module]


class PermutatorNet(VisionModel):
    """Patch embedding, stages of :class:`PermutatorBlock`, LayerNorm, mean pool, head.

    Argument names are the official ones. A stage downsamples by 2 after stage ``i`` when
    ``transitions[i]``; a width change without a transition is a 1x1 convolution, as in the
    official code. ``mixer_factory`` builds each block's token mixer for its stage; ``native_sizes[i]``
    (the official argument ``native_name``) is the side of the square grid stage ``i``'s weights are tied
    to, which the input must give unless ``dynamic_img_size``.
    """

    supports_dynamic_img_size = True

    def __init__(
        self,
        mixer_factory: MixerFactory,
        native_sizes: Sequence[int],
        native_name: str,
        layers: Sequence[int],
        embed_dims: Sequence[int],
        transitions: Sequence[bool],
        mlp_ratios: Sequence[float],
        num_classes: int,
        img_size,
        in_chans: int,
        patch_size: int,
        skip_lam: float,
        drop_path_rate: float,
        dynamic_img_size: bool,
    ):
        super().__init__()
        num_stages = len(layers)
        if not len(embed_dims) == len(transitions) == len(mlp_ratios) == num_stages:
            raise ValueError(
                f"layers, embed_dims, transitions and mlp_ratios need one entry per stage; got lengths "
                f"{len(layers)}, {len(embed_dims)}, {len(transitions)}, {len(mlp_ratios)}"
            )
        self.num_classes = num_classes
        self.num_features = embed_dims[-1]
        self.in_chans = in_chans
        self.img_size = to_2tuple(img_size)
        self.fixed_img_size = self.img_size
        self.dynamic_img_size = dynamic_img_size
        self.stem = PatchEmbed(self.img_size, patch_size, in_chans, embed_dims[0], flatten=False)

        dpr = drop_path_rates(drop_path_rate, sum(layers))
        grids = stage_grids(self.stem.grid_size, transitions)
        if not dynamic_img_size:
            for i, (grid, size) in enumerate(zip(grids, native_sizes, strict=True)):
                if grid != (size, size):
                    raise ValueError(
                        f"stage {i} of a {self.img_size[0]}x{self.img_size[1]} input runs on a {grid[0]}x{grid[1]} "
                        f"token grid but {native_name}[{i}]={size}: its token-mixing weights are tied to a "
                        f"{size}x{size} grid. Pick img_size to match {native_name}, or pass dynamic_img_size=True "
                        "to resample them to the input"
                    )
        stages, feature_info = [], []
        for i, (depth, dim) in enumerate(zip(layers, embed_dims, strict=True)):
            downsample = None
            if i > 0 and (transitions[i - 1] or embed_dims[i - 1] != dim):
                stride = 2 if transitions[i - 1] else 1
                downsample = Downsample(embed_dims[i - 1], dim, kernel_size=stride, stride=stride)
            start = sum(layers[:i])
            blocks = [
                PermutatorBlock(dim, mixer_factory(i, dim), mlp_ratios[i], dpr[start + j], skip_lam)
                for j in range(depth)
            ]
            stages.append(PermutatorStage(downsample, blocks))
            reduction = patch_size * 2 ** sum(map(bool, transitions[:i]))
            feature_info.append({"num_chs": dim, "reduction": reduction, "module": f"stages.{i}"})
        self.stages = nn.ModuleList(stages)
        self.default_out_indices = tuple(range(num_stages))  # every stage output
        self.size_multiple = (reduction, reduction)  # the last stage's total stride
        self.norm = nn.LayerNorm(embed_dims[-1], eps=NORM_EPS)
        self.feature_info = FeatureInfo(feature_info)
        self.head = self.build_head(num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        # Official: trunc_normal(0.02) Linear weights, zero biases; convolutions keep PyTorch's default.
        if isinstance(module, nn.Linear):
            trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def _stage(self, stage: PermutatorStage, x: torch.Tensor) -> torch.Tensor:
        if stage.downsample is not None:
            x = stage.downsample(x)
        return self.run_blocks(stage.blocks, x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        x = self.stem(x).permute(0, 2, 3, 1).contiguous()  # (B, C, H, W) -> (B, H, W, C), copied once
        for stage in self.stages:
            x = self._stage(stage, x)
        return self.norm(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2))

    def forward_intermediates(self, x, indices):
        x = self.prepare_input(x)
        x = self.stem(x).permute(0, 2, 3, 1).contiguous()
        out = []
        for i, stage in enumerate(self.stages[: indices[-1] + 1]):
            x = self._stage(stage, x)
            if i in indices:
                out.append(x.permute(0, 3, 1, 2).contiguous())
        return out


def stage_grids(grid: tuple[int, int], transitions: Sequence[bool]) -> list[tuple[int, int]]:
    """The token grid of each stage, given the patch grid: halved after every stage with a transition."""
    grids = [tuple(grid)]
    for down in transitions[:-1]:
        h, w = grids[-1]
        grids.append((h // 2, w // 2) if down else (h, w))
    return grids

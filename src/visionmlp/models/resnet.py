"""CNN baselines: ResNet (He et al. 2016, arXiv 1512.03385) and BiT's ResNet-v2 (Kolesnikov et al. 2020).

``ResNet`` is torchvision's layout (v1.5: the stride of a bottleneck sits on its 3x3 conv) with its
submodule names, so torchvision state dicts load after one rename: torchvision's classifier ``fc`` is
``head`` here, the name every visionmlp model gives its classifier. ``ResNetV2`` is BiT's pre-activation
ResNet with GroupNorm and weight-standardised convs, named as the official PyTorch code
(google-research/big_transfer ``bit_pytorch/models.py``) except that its ``head.gn`` is ``norm`` and its
1x1 ``head.conv`` is the Linear ``head`` (same weights, squeezed).

Both take any input size. ``cifar_stem=True`` swaps the 7x7/2 stem and max pool for a 3x3/1 conv, as
the CIFAR ResNets do, so that 28-32 px images keep a useful resolution.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..layers._helpers import to_2tuple
from ..layers.drop import Dropout
from ..layers.std_conv import StdConv2d
from ._base import VisionModel
from ._features import FeatureInfo
from ._fuse import fold_conv_bn_pairs, fold_conv_bn_sequence
from ._registry import (
    INCEPTION_MEAN,
    INCEPTION_STD,
    PretrainedCfg,
    Published,
    register_small_variants,
    register_variant,
)


class _StagedCNN(VisionModel):
    """What ResNet and BiT share: a stem, four stages of residual blocks, a global mean pool.

    Subclasses build ``stem`` (a module) and ``stages`` (a list of the four stage modules, kept under
    their checkpoint names), and may override :meth:`final` (what follows the last stage).
    """

    default_out_indices = (0, 1, 2, 3)

    def _setup(self, num_classes: int, img_size, in_chans: int, widths, cifar_stem: bool, drop_rate: float):
        self.num_classes = num_classes
        self.num_features = widths[-1]
        self.in_chans = in_chans
        self.img_size = to_2tuple(img_size)  # the default input size; any size works
        self.fixed_img_size = None
        self.head_drop = Dropout(drop_rate)
        stem_stride = 1 if cifar_stem else 4
        self.feature_info = FeatureInfo(
            {"num_chs": w, "reduction": stem_stride * 2**i, "module": name}
            for i, (w, name) in enumerate(zip(widths, self._stage_names(), strict=True))
        )

    def _stage_names(self) -> list[str]:
        raise NotImplementedError

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _stages(self) -> list[nn.Sequential]:
        return [self.get_submodule(name) for name in self._stage_names()]

    def final(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare_input(x)
        x = self._stem(x)
        for stage in self._stages():
            x = self.run_blocks(stage, x)
        return self.final(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.head_drop(x.mean(dim=(2, 3)))

    def forward_intermediates(self, x, indices):
        x = self.prepare_input(x)
        x = self._stem(x)
        stages = self._stages()
        out = []
        for i, stage in enumerate(stages[: indices[-1] + 1]):
            x = self.run_blocks(stage, x)
            if i == len(stages) - 1:
                x = self.final(x)
            if i in indices:
                out.append(x)
        return out


# ----- ResNet (torchvision layout) ---------------------------------------------------------------


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """relu(x + BN(conv3x3(relu(BN(conv3x3(x))))))."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)

    def fuse(self) -> nn.Module:
        """Each BatchNorm folded into the convolution before it, the shortcut's too (inference only)."""
        return _fuse_block(self, 2)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (carries the stride, "v1.5") -> 1x1 expand by 4, BN after each, residual."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv1x1(cin, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + shortcut)

    def fuse(self) -> nn.Module:
        """Each BatchNorm folded into the convolution before it, the shortcut's too (inference only)."""
        return _fuse_block(self, 3)


def _fuse_block(block: nn.Module, convs: int) -> nn.Module:
    if isinstance(block.downsample, nn.Sequential):
        fold_conv_bn_sequence(block.downsample)
    return fold_conv_bn_pairs(block, convs)


_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(_StagedCNN):
    """ResNet v1.5. ``widths`` are the per-stage "planes" (a bottleneck outputs 4x that).

    ``zero_init_last`` zeroes each block's last BN gamma so that blocks start as identities (Goyal et
    al. 2017); off by default, as in torchvision.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        block: str = "bottleneck",
        layers=(3, 4, 6, 3),
        widths=(64, 128, 256, 512),
        stem_width: int = 64,
        cifar_stem: bool = False,
        zero_init_last: bool = False,
        drop_rate: float = 0.0,
    ):
        super().__init__()
        if block not in _BLOCKS:
            raise ValueError(f"block must be one of {sorted(_BLOCKS)}, got {block!r}")
        block_cls = _BLOCKS[block]
        self._setup(num_classes, img_size, in_chans, [w * block_cls.expansion for w in widths], cifar_stem, drop_rate)
        if cifar_stem:
            self.conv1 = _conv3x3(in_chans, stem_width)
        else:
            self.conv1 = nn.Conv2d(in_chans, stem_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if cifar_stem else nn.MaxPool2d(3, stride=2, padding=1)
        cin = stem_width
        for i, (depth, planes) in enumerate(zip(layers, widths, strict=True)):
            stride = 1 if i == 0 else 2
            cout = planes * block_cls.expansion
            downsample = None
            if stride != 1 or cin != cout:
                # torchvision's unnamed (conv, BN) pair, kept so its keys downsample.0/1 load as they are.
                downsample = nn.Sequential(_conv1x1(cin, cout, stride), nn.BatchNorm2d(cout))
            blocks = [block_cls(cin, planes, stride, downsample)]
            blocks += [block_cls(cout, planes) for _ in range(depth - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            cin = cout
        self.head = self.build_head(num_classes)
        self._init_weights(zero_init_last)

    def _stage_names(self) -> list[str]:
        return ["layer1", "layer2", "layer3", "layer4"]

    def _init_weights(self, zero_init_last: bool) -> None:
        # torchvision: He-normal (fan_out) convs, BN gamma 1 / beta 0, the classifier at nn.Linear's default.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_last:
            for module in self.modules():
                if isinstance(module, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(module.last_bn().weight)

    def init_head(self, head: nn.Linear) -> None:
        head.reset_parameters()  # torchvision leaves fc at PyTorch's default Linear init

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.bn1(self.conv1(x))))

    def fuse(self) -> ResNet:
        """The stem's BatchNorm folded into its convolution, then every block's (inference only)."""
        if self.training:
            raise RuntimeError("fuse() folds inference-time statistics; call model.eval() first")
        fold_conv_bn_pairs(self, 1)
        return super().fuse()


# ----- BiT ResNet-v2 -----------------------------------------------------------------------------


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck: GN+ReLU before each weight-standardised conv, stride on the 3x3.

    A projection shortcut (where the shape changes) takes the pre-activated input, as in the paper.
    """

    def __init__(self, cin: int, cout: int, cmid: int, stride: int = 1, num_groups: int = 32):
        super().__init__()
        self.gn1 = nn.GroupNorm(num_groups, cin)
        self.conv1 = StdConv2d(cin, cmid, 1, bias=False)
        self.gn2 = nn.GroupNorm(num_groups, cmid)
        self.conv2 = StdConv2d(cmid, cmid, 3, stride=stride, padding=1, bias=False)
        self.gn3 = nn.GroupNorm(num_groups, cmid)
        self.conv3 = StdConv2d(cmid, cout, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = StdConv2d(cin, cout, 1, stride=stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.gn1(x))
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.gn2(out)))
        out = self.conv3(self.relu(self.gn3(out)))
        return out + shortcut


class ResNetV2(_StagedCNN):
    """BiT ResNet-v2. ``widths`` are the stage output widths (BiT-R50x1: 256..2048, bottleneck 1/4).

    The root max pool is preceded by explicit zero padding, not the pool's own -inf padding, as in the
    official code (the two differ after the conv's signed outputs). The head is zero-initialised, as
    the official fine-tuning code builds it (``zero_head=True``); convs keep PyTorch's default init,
    which weight standardisation makes scale-free anyway.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        img_size=224,
        in_chans: int = 3,
        layers=(3, 4, 6, 3),
        widths=(256, 512, 1024, 2048),
        stem_width: int = 64,
        num_groups: int = 32,
        cifar_stem: bool = False,
        drop_rate: float = 0.0,
    ):
        super().__init__()
        self._setup(num_classes, img_size, in_chans, widths, cifar_stem, drop_rate)
        if cifar_stem:
            root = [("conv", StdConv2d(in_chans, stem_width, 3, padding=1, bias=False))]
        else:
            root = [
                ("conv", StdConv2d(in_chans, stem_width, 7, stride=2, padding=3, bias=False)),
                ("pad", nn.ConstantPad2d(1, 0.0)),
                ("pool", nn.MaxPool2d(3, stride=2)),
            ]
        self.root = nn.Sequential(OrderedDict(root))
        body = []
        cin = stem_width
        for i, (depth, cout) in enumerate(zip(layers, widths, strict=True)):
            units = [
                (
                    f"unit{j + 1:02d}",
                    PreActBottleneck(cin if j == 0 else cout, cout, cout // 4, 2 if i and not j else 1, num_groups),
                )
                for j in range(depth)
            ]
            body.append((f"block{i + 1}", nn.Sequential(OrderedDict(units))))
            cin = cout
        self.body = nn.Sequential(OrderedDict(body))
        self.norm = nn.GroupNorm(num_groups, widths[-1])
        self.relu = nn.ReLU(inplace=True)
        self.feature_info[-1]["module"] = "norm"  # the last map is taken after the final GN+ReLU
        self.head = self.build_head(num_classes)

    def _stage_names(self) -> list[str]:
        return ["body.block1", "body.block2", "body.block3", "body.block4"]

    def init_head(self, head: nn.Linear) -> None:
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.root(x)

    def final(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.norm(x))


# ----- variants ----------------------------------------------------------------------------------

_TV_SRC = "torchvision resnet (exact count); He et al. 2016; FLOPs: Touvron et al. 2021 (ResMLP), Table 2"
# torchvision's evaluation transform: resize 256, centre crop 224, bilinear, ImageNet mean/std.
_TV_CFG = PretrainedCfg(crop_pct=0.875, interpolation="bilinear", fixed_input_size=False)
_RESNET_TINY = dict(layers=(1, 1, 1, 1), widths=(8, 16, 16, 32), stem_width=8)
_BIT_TINY = dict(layers=(1, 1, 1, 1), widths=(16, 16, 32, 32), stem_width=8, num_groups=4)

register_variant(
    "resnet18",
    ResNet,
    dict(block="basic", layers=(2, 2, 2, 2)),
    family="resnet",
    pretrained_cfg=_TV_CFG,
    published=Published(params=11_689_512, params_exact=True, source=_TV_SRC),
    tiny=dict(_RESNET_TINY, img_size=32),
)
register_variant(
    "resnet50",
    ResNet,
    dict(block="bottleneck", layers=(3, 4, 6, 3)),
    family="resnet",
    pretrained_cfg=_TV_CFG,
    # FlopCounterMode counts 4.11 G (convs and the classifier), within 1% of the published 4.1 G.
    published=Published(params=25_557_032, params_exact=True, macs=4.1, official_macs=4.1, source=_TV_SRC),
    tiny=dict(block="bottleneck", layers=(1, 1, 1, 1), widths=(4, 8, 8, 8), stem_width=8, img_size=32),
)
register_variant(
    "bit_resnet50x1",
    ResNetV2,
    dict(layers=(3, 4, 6, 3)),
    family="bit",
    # The official evaluation resizes straight to the crop, bilinear, and scales pixels to [-1, 1].
    pretrained_cfg=PretrainedCfg(
        mean=INCEPTION_MEAN, std=INCEPTION_STD, crop_pct=1.0, interpolation="bilinear", fixed_input_size=False
    ),
    published=Published(
        params=25_549_352,
        params_exact=True,
        official_macs=4.09,
        top1=73.69,
        regime="JFT-300M 7 ep, fine-tuned at 224",
        source=(
            "params and MACs: google-research/big_transfer bit_pytorch/models.py BiT-M-R50x1, head_size=1000, "
            "counted (parameters; FlopCounterMode/2 at 224); top-1: Tolstikhin et al. 2021, Table 3"
        ),
    ),
    tiny=dict(_BIT_TINY, img_size=32),
)

# Small CNNs for Fashion-MNIST (28x28, 1 channel) and CIFAR (32x32): 3x3 stride-1 stem, no max pool.
# ResNet-18 at quarter width (~0.70 M, ~29 M MACs at 28x28); BiT with one unit per stage and bottleneck widths
# 32/32/64/128 (~0.53 M, ~37 M MACs), the narrowest its 32-group GroupNorm allows.
_SMALL_RESNET = dict(block="basic", layers=(2, 2, 2, 2), widths=(16, 32, 64, 128), stem_width=16, cifar_stem=True)
_SMALL_BIT = dict(layers=(1, 1, 1, 1), widths=(128, 128, 256, 512), stem_width=32, cifar_stem=True)
register_small_variants("resnet_s2", ResNet, _SMALL_RESNET, family="resnet", tiny=_RESNET_TINY, any_size=True)
register_small_variants("bit_s2", ResNetV2, _SMALL_BIT, family="bit", tiny=_BIT_TINY, any_size=True)

"""Image transforms on PIL and torch (no torchvision): what the train and eval pipelines are made of.

Every transform is a callable ``(image, rng) -> image`` taking an explicit ``random.Random``, so the
dataset can hand each sample its own seeded generator (see ``data/base.py``); deterministic transforms
ignore it. Geometry follows the usual ImageNet recipe: random resized crop + flip for training, resize
to ``size / crop_pct`` + centre crop for evaluation.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from .randaugment import rand_augment_transform

INTERPOLATION = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                 "nearest": Image.Resampling.NEAREST}  # fmt: skip


def _resample(name: str) -> Image.Resampling:
    try:
        return INTERPOLATION[name]
    except KeyError:
        raise ValueError(f"unknown interpolation {name!r}; valid: {', '.join(INTERPOLATION)}") from None


class Compose:
    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, img, rng: random.Random | None = None):
        """``rng`` may be omitted only when every transform is deterministic (evaluation)."""
        for t in self.transforms:
            img = t(img, rng)
        return img


class RandomResizedCrop:
    """Crop a random area fraction in ``scale`` with aspect ratio in ``ratio`` (log-uniform), resize to
    ``size``; after 10 failed draws fall back to the largest centre crop within ``ratio``."""

    def __init__(self, size: tuple[int, int], scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), interpolation="bicubic"):
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"crop scale must satisfy 0 < min <= max <= 1, got {tuple(scale)}")
        self.size, self.scale, self.ratio = tuple(size), tuple(scale), tuple(ratio)
        self.resample = _resample(interpolation)

    def box(self, width: int, height: int, rng: random.Random) -> tuple[int, int, int, int]:
        area = width * height
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                left, top = rng.randint(0, width - w), rng.randint(0, height - h)
                return left, top, left + w, top + h
        aspect = width / height
        if aspect < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif aspect > self.ratio[1]:
            w, h = round(height * self.ratio[1]), height
        else:
            w, h = width, height
        left, top = (width - w) // 2, (height - h) // 2
        return left, top, left + w, top + h

    def __call__(self, img: Image.Image, rng: random.Random) -> Image.Image:
        box = self.box(*img.size, rng)
        return img.resize(self.size[::-1], self.resample, box=box)


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, img: Image.Image, rng: random.Random) -> Image.Image:
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < self.p else img


class ResizeCenterCrop:
    """Resize the shorter side to ``size / crop_pct`` then take the central ``size``; a no-op when the
    image already has the target size and ``crop_pct`` is 1 (Fashion-MNIST at 28x28)."""

    def __init__(self, size: tuple[int, int], crop_pct: float = 0.875, interpolation="bicubic"):
        if not 0 < crop_pct <= 1:
            raise ValueError(f"crop_pct must be in (0, 1], got {crop_pct}")
        self.size, self.crop_pct = tuple(size), crop_pct
        self.resample = _resample(interpolation)

    def __call__(self, img: Image.Image, rng: random.Random | None = None) -> Image.Image:
        th, tw = self.size
        if img.size == (tw, th) and self.crop_pct == 1:
            return img
        scale = max(th, tw) / self.crop_pct / min(img.size)
        w, h = max(tw, round(img.width * scale)), max(th, round(img.height * scale))
        img = img.resize((w, h), self.resample)
        left, top = (w - tw) // 2, (h - th) // 2
        return img.crop((left, top, left + tw, top + th))


class ToTensor:
    """PIL image -> float CHW tensor, scaled to [0, 1] and normalised with ``mean``/``std`` if given. With a
    ``mean``, the image is first converted to as many channels as it has (grey for one, RGB for three), so a
    colour picture given to a grey model's transform comes out with the one channel the model takes."""

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        self.mode = {1: "L", 3: "RGB"}.get(len(mean)) if mean is not None else None

    def __call__(self, img: Image.Image, rng: random.Random | None = None) -> torch.Tensor:
        if self.mode is not None and img.mode != self.mode:
            img = img.convert(self.mode)
        array = np.asarray(img, dtype=np.uint8)
        x = torch.from_numpy(array.copy()).float().div_(255)
        x = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x


class RandomErasing:
    """Erase one random rectangle of a normalised tensor with per-pixel normal noise (timm's ``pixel``
    mode), with probability ``p``; area fraction in ``scale``, aspect ratio log-uniform in ``ratio``."""

    def __init__(self, p: float = 0.25, scale=(0.02, 1 / 3), ratio=(0.3, 3.3)):
        if not 0 <= p <= 1:
            raise ValueError(f"random erasing probability must be in [0, 1], got {p}")
        self.p, self.scale, self.ratio = p, scale, ratio

    def __call__(self, x: torch.Tensor, rng: random.Random) -> torch.Tensor:
        if rng.random() >= self.p:
            return x
        c, height, width = x.shape
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            area = height * width * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            h, w = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < h < height and 0 < w < width:
                top, left = rng.randint(0, height - h), rng.randint(0, width - w)
                noise = torch.randn((c, h, w), generator=torch.Generator().manual_seed(rng.getrandbits(63)))
                x = x.clone()
                x[:, top : top + h, left : left + w] = noise
                return x
        return x


def build_train_transform(
    input_size: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
    *,
    scale: tuple[float, float] = (0.08, 1.0),
    hflip: float = 0.5,
    auto_augment: str | None = None,
    reprob: float = 0.0,
    interpolation: str = "bicubic",
) -> Compose:
    """Crop, flip, RandAugment (a timm string such as ``rand-m9-mstd0.5``), normalise, random erasing."""
    size = tuple(input_size[-2:])
    steps: list[Callable] = [RandomResizedCrop(size, scale=scale, interpolation=interpolation)]
    if hflip > 0:
        steps.append(RandomHorizontalFlip(hflip))
    if auto_augment:
        fill = tuple(round(255 * m) for m in mean)
        steps.append(rand_augment_transform(auto_augment, fill=fill))
    steps.append(ToTensor(mean, std))
    if reprob > 0:
        steps.append(RandomErasing(reprob))
    return Compose(steps)


def build_eval_transform(
    input_size: Sequence[int], mean, std, *, crop_pct: float = 0.875, interpolation: str = "bicubic"
) -> Compose:
    return Compose([ResizeCenterCrop(tuple(input_size[-2:]), crop_pct, interpolation), ToTensor(mean, std)])

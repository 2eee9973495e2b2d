"""The studies' data: Fashion-MNIST (or any ``build_dataset`` spec) at 1x28x28 with one fixed recipe.

Every arm of every study sees the same pipeline (random resized crop with area 0.5-1 and a horizontal
flip for training, the plain image for testing, Fashion-MNIST normalisation), so that differences come from
the models. The transforms a study needs on top (a fixed pixel permutation, a resize to another
resolution) are here too, as ``(image, rng)`` callables like those of ``data.transforms``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
from PIL import Image
from torch.utils.data import DataLoader

from ..data import ImageDataset, build_dataset, build_eval_transform, build_loader, build_train_transform
from ..data.transforms import INTERPOLATION, Compose, ToTensor
from ..models._registry import SMALL_INPUTS

INPUT_SIZE = (1, 28, 28)
MEAN, STD = SMALL_INPUTS[28]["mean"], SMALL_INPUTS[28]["std"]


def train_set(spec: str, count: int | None = None, extra: Callable | None = None) -> ImageDataset:
    """The training split of ``spec``, limited to a fixed random subset of ``count`` images (the subsets of
    one spec are nested: a smaller one is a prefix of the same permutation), with the study recipe."""
    dataset = build_dataset(spec, "train").limit(count, seed=0)
    _check_input(dataset, spec)
    steps = build_train_transform(INPUT_SIZE, MEAN, STD, scale=(0.5, 1.0), hflip=0.5).transforms
    dataset.transform = Compose([*steps, extra] if extra else steps)
    return dataset


def eval_set(spec: str, split: str = "val", count: int | None = None, steps: list[Callable] | None = None
             ) -> ImageDataset:  # fmt: skip
    """A fixed subset of ``count`` images of ``split`` (the test set, or the training images a train/test
    gap is measured on); ``steps`` replace the plain image-to-tensor transform (e.g. a resize)."""
    dataset = build_dataset(spec, split).limit(count, seed=0)
    _check_input(dataset, spec)
    dataset.transform = Compose(steps) if steps else build_eval_transform(INPUT_SIZE, MEAN, STD, crop_pct=1.0)
    return dataset


def to_tensor() -> ToTensor:
    return ToTensor(MEAN, STD)


def _check_input(dataset: ImageDataset, spec: str) -> None:
    channels, height, width = INPUT_SIZE
    img, _ = dataset.image(0)
    if dataset.channels != channels or img.size != (width, height):
        raise ValueError(
            f"the studies train at {channels}x{height}x{width} (Fashion-MNIST); {spec!r} holds "
            f"{dataset.channels}x{img.height}x{img.width} images"
        )


class Resampled(ImageDataset):
    """``base`` cycled to ``length`` items, so that one epoch is exactly the steps a budget allows (the
    trainer's sampler shuffles it; every image appears ``length / len(base)`` times, +-1)."""

    def __init__(self, base: ImageDataset, length: int):
        super().__init__(base.classes, base.channels, base.transform, base.seed)
        self.base, self.length = base, length

    def _size(self) -> int:
        return self.length

    def _load(self, i: int) -> tuple[Image.Image, int]:
        return self.base.image(i % len(self.base))


def eval_loader(dataset: ImageDataset, batch_size: int) -> DataLoader:
    """In-process loading: evaluation transforms are cheap, and worker start-up is not."""
    return build_loader(dataset, batch_size, train=False, workers=0)


class Resize:
    """Resize to ``(height, width)`` whatever the aspect ratio: all of the image stays in view."""

    def __init__(self, size: tuple[int, int], interpolation: str = "bicubic"):
        self.size = tuple(size)
        self.resample = INTERPOLATION[interpolation]

    def __call__(self, img: Image.Image, rng: random.Random | None = None) -> Image.Image:
        h, w = self.size
        return img if img.size == (w, h) else img.resize((w, h), self.resample)


class PatchPermutation:
    """A fixed permutation of the ``patch x patch`` patches of a ``(C, H, W)`` tensor and of the pixels
    within every patch (the same one in each), drawn once from ``seed`` (MLP-Mixer paper, Fig. 4)."""

    def __init__(self, size: tuple[int, int], patch: int, seed: int = 0):
        h, w = size
        if h % patch or w % patch:
            raise ValueError(f"a {h}x{w} image does not split into {patch}x{patch} patches")
        generator = torch.Generator().manual_seed(seed)
        self.patch, self.grid = patch, (h // patch, w // patch)
        self.patches = torch.randperm(self.grid[0] * self.grid[1], generator=generator)
        self.pixels = torch.randperm(patch * patch, generator=generator)

    def __call__(self, x: torch.Tensor, rng: random.Random | None = None) -> torch.Tensor:
        c, p, (gh, gw) = x.shape[0], self.patch, self.grid
        tiles = x.reshape(c, gh, p, gw, p).permute(0, 1, 3, 2, 4).reshape(c, gh * gw, p * p)  # (C, tiles, pixels)
        tiles = tiles[:, self.patches][:, :, self.pixels]
        return tiles.reshape(c, gh, gw, p, p).permute(0, 1, 3, 2, 4).reshape(c, gh * p, gw * p)

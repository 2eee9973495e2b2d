"""A synthetic image set for benchmarks and tests: no files, any size, deterministic, and learnable
(each class brightens its own patch of the image), so a training run on it must reduce the loss."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .base import ImageDataset


class SyntheticDataset(ImageDataset):
    def __init__(
        self,
        num_samples: int = 1024,
        num_classes: int = 10,
        image_size: tuple[int, int] = (28, 28),
        channels: int = 1,
        data_seed: int = 0,
        **kwargs,
    ):
        super().__init__([f"class_{i}" for i in range(num_classes)], channels, **kwargs)
        self.num_samples, self.num_classes = num_samples, num_classes
        self.image_size, self.data_seed = tuple(image_size), data_seed

    def _size(self) -> int:
        return self.num_samples

    def _load(self, i: int) -> tuple[Image.Image, int]:
        rng = np.random.default_rng((self.data_seed, i))
        label = int(rng.integers(self.num_classes))
        h, w = self.image_size
        pixels = rng.integers(0, 100, size=(h, w, self.channels), dtype=np.uint8)
        band = max(1, h // self.num_classes)
        top = (label * band) % max(1, h - band + 1)
        pixels[top : top + band] += 150
        return Image.fromarray(pixels[..., 0] if self.channels == 1 else pixels), label

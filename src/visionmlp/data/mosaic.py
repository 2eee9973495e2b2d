"""Fashion-MNIST mosaics: a dense-prediction task made offline from real images.

COCO and ADE20K cannot be downloaded here, so segmentation and detection train on canvases of several
Fashion-MNIST garments, each placed at a random position and scale, later ones covering earlier ones where they
overlap. Every canvas comes with what both tasks need: a per-pixel class map (0 is background, ``k + 1`` the
garment class ``k``; a pixel belongs to a garment where the garment's own image is brighter than
:data:`INK`) and one box and class per garment still visible (its visible pixels' extent, ``x0, y0, x1, y1`` in
pixels with ``x1``/``y1`` exclusive, as COCO's ``x, y, w, h`` is). Canvases of the ``train`` split use only
training images and those of ``test`` only test images; canvas ``i`` is a pure function of ``(seed, split, i)``,
so a dataset is the same in every process and session without being stored.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .base import sample_rng
from .dense import DenseDataset, DenseTarget
from .fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist

#: a garment pixel is one brighter than this (Fashion-MNIST's background is 0; the faintest garment edges ~10)
INK = 24
#: a garment covered so much that fewer of its pixels than this stay visible gets no box (its pixels keep its class)
MIN_VISIBLE = 16
_SPLITS = {"train": 0, "test": 1}


class FashionMnistMosaic(DenseDataset):
    """``count`` canvases of ``size`` (H, W) with ``objects`` (min, max) garments each, scaled by a factor drawn
    from ``scale`` (28 x 28 pixels at 1.0); items are ``(image (1, H, W) float in [0, 1], DenseTarget)`` with both
    the class map and the boxes. ``source`` takes the garments from another grey image dataset instead of the
    Fashion-MNIST ``split`` (its classes then name the map's and the boxes')."""

    classes = ("background", *FASHION_MNIST_CLASSES)
    box_classes = FASHION_MNIST_CLASSES
    channels = 1

    def __init__(
        self,
        split: str = "train",
        size: tuple[int, int] = (96, 96),
        count: int | None = None,
        objects: tuple[int, int] = (2, 5),
        scale: tuple[float, float] = (0.75, 1.75),
        seed: int = 0,
        root=None,
        source=None,
    ):
        if split not in _SPLITS:
            raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(_SPLITS)}")
        height, width = size
        if min(height, width) < round(28 * scale[1]):
            raise ValueError(f"a {height}x{width} canvas cannot hold a garment scaled {scale[1]}x (28 px at 1x); "
                             "use a larger canvas or a smaller scale")  # fmt: skip
        if not 1 <= objects[0] <= objects[1]:
            raise ValueError(f"objects must be (min, max) with 1 <= min <= max, got {objects}")
        if source is None:
            images, labels = load_fashion_mnist(split, root)
            self._garments = len(images)
            self._garment = lambda i: (images[i].numpy(), int(labels[i]))
        else:  # any grey image dataset (ImageDataset: .image(i) -> (PIL image, label), .classes)
            self.classes, self.box_classes = ("background", *source.classes), tuple(source.classes)
            self._garments = len(source)
            self._garment = lambda i: _grey(*source.image(i))
        self.split, self.size, self.objects, self.scale, self.seed = split, (height, width), objects, scale, seed
        self.count = count if count is not None else self._garments // 3

    def _size(self) -> int:
        return self.count

    def _item(self, index: int) -> tuple[torch.Tensor, DenseTarget]:
        rng = sample_rng(self.seed, _SPLITS[self.split], index)
        height, width = self.size
        canvas = np.zeros((height, width), dtype=np.uint8)
        owner = np.full((height, width), -1, dtype=np.int64)  # which garment each pixel shows
        labels = []
        for j in range(rng.randint(*self.objects)):
            pixels, label = self._garment(rng.randrange(self._garments))
            side = round(28 * rng.uniform(*self.scale))
            garment = np.asarray(Image.fromarray(pixels).resize((side, side), Image.BILINEAR))
            top, left = rng.randrange(height - side + 1), rng.randrange(width - side + 1)
            ink = garment > INK
            window = (slice(top, top + side), slice(left, left + side))
            canvas[window][ink] = garment[ink]
            owner[window][ink] = j
            labels.append(label)
        mask = np.zeros((height, width), dtype=np.int64)
        boxes, kept = [], []
        for j, label in enumerate(labels):
            ys, xs = np.nonzero(owner == j)
            if len(ys):
                mask[ys, xs] = label + 1
            if len(ys) >= MIN_VISIBLE:
                boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
                kept.append(label)
        image = torch.from_numpy(canvas).float().div_(255).unsqueeze(0)
        target = DenseTarget(
            torch.from_numpy(mask),
            torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            torch.tensor(kept, dtype=torch.int64),
        )
        return image, target


def _grey(image: Image.Image, label: int) -> tuple[np.ndarray, int]:
    return np.asarray(image.convert("L")), int(label)

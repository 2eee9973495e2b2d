"""The dataset contract the trainer relies on: ``(image tensor, label)`` items, class names, and
augmentation randomness that is a pure function of ``(seed, epoch, index)``.

Deriving each sample's random numbers from its index (rather than from a worker's global RNG) makes an
epoch identical whatever the number of loader workers, and lets a resumed run skip the batches it has
already seen without replaying them: the next sample is augmented exactly as in the uninterrupted run.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import torch
from PIL import Image
from torch.utils.data import Dataset

from .transforms import ToTensor

Transform = Callable[[Image.Image, random.Random], torch.Tensor]


def sample_rng(*parts: int) -> random.Random:
    """A Python RNG seeded from integers; string seeding goes through SHA-512, so it is the same in
    every process (unlike ``hash`` of a string) and nearby seeds give unrelated streams."""
    return random.Random(":".join(str(int(p)) for p in parts))


def seeded_subset(size: int, count: int, seed: int) -> torch.Tensor:
    """``count`` of the indices ``0..size-1``, in order, drawn by a permutation seeded with ``seed`` (the subsets of
    one seed are nested: a smaller one is a prefix of the same permutation)."""
    return torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:count].sort().values


class ImageDataset(Dataset):
    """Base class: subclasses implement ``_size()`` and ``_load(i) -> (PIL image, label)``.

    ``classes`` names the labels; ``channels`` is 1 (grey, PIL mode ``L``) or 3 (``RGB``). ``transform``
    takes ``(image, rng)`` and returns a tensor; without one, images become float tensors in [0, 1].
    """

    def __init__(self, classes: Sequence[str], channels: int, transform: Transform | None = None, seed: int = 0):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
        self.classes = tuple(classes)
        self.channels = channels
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self._index: torch.Tensor | None = None
        #: (fraction, seed, this is the held-out part) after :meth:`hold_out`
        self.held_out: tuple[float, int, bool] | None = None

    @property
    def mode(self) -> str:
        return "L" if self.channels == 1 else "RGB"

    def _size(self) -> int:
        raise NotImplementedError

    def _load(self, i: int) -> tuple[Image.Image, int]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._index) if self._index is not None else self._size()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def limit(self, count: int | None, seed: int = 0) -> ImageDataset:
        """Keep a fixed random subset of ``count`` items (for quick runs and tests); returns ``self``."""
        if count is not None and count < len(self):
            if count <= 0:
                raise ValueError(f"a dataset limit must be positive, got {count}")
            self._index = self._view()[seeded_subset(len(self), count, seed)]
        return self

    def hold_out(self, fraction: float, seed: int, held: bool) -> ImageDataset:
        """Split the items in two by a seeded permutation: ``held`` keeps the ``fraction`` held out for validation,
        otherwise the rest (the same seed gives complementary parts); returns ``self``."""
        count = round(fraction * len(self))
        if not 0 < count < len(self):
            raise ValueError(
                f"holding out {fraction:g} of {len(self)} images leaves no image on one side; change --val-split "
                "or add a validation folder"
            )
        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        self._index = self._view()[(perm[:count] if held else perm[count:]).sort().values]
        self.held_out = (fraction, seed, held)
        return self

    def _view(self) -> torch.Tensor:
        """The underlying items this dataset shows, in order."""
        return self._index if self._index is not None else torch.arange(self._size())

    def _real(self, index: int) -> int:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        return int(self._index[index]) if self._index is not None else index

    def image(self, index: int) -> tuple[Image.Image, int]:
        """The untransformed image and its label."""
        return self._load(self._real(index))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        img, label = self.image(index)
        transform = self.transform or ToTensor()
        return transform(img, sample_rng(self.seed, self.epoch, index)), label


class ArrayDataset(ImageDataset):
    """Images held in memory as one uint8 tensor, ``(N, H, W)`` grey or ``(N, 3, H, W)`` colour."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], **kwargs):
        if images.dtype != torch.uint8 or images.ndim not in (3, 4) or len(images) != len(labels):
            raise ValueError(
                f"ArrayDataset needs uint8 images (N, H, W) or (N, 3, H, W) and N labels, got {images.dtype} "
                f"{tuple(images.shape)} and {len(labels)} labels"
            )
        channels = 1 if images.ndim == 3 else images.shape[1]
        super().__init__(classes, channels, **kwargs)
        # HWC numpy views make PIL conversion a zero-copy wrap per item.
        self.images = images.numpy() if images.ndim == 3 else images.permute(0, 2, 3, 1).contiguous().numpy()
        self.labels = labels.long()

    def _size(self) -> int:
        return len(self.labels)

    def _load(self, i: int) -> tuple[Image.Image, int]:
        return Image.fromarray(self.images[i]), int(self.labels[i])

"""A user's own dense-prediction data, in the two common layouts.

* Segmentation, as mmseg's custom datasets: ``root/images/<name>.<ext>`` with ``root/masks/<name>.png`` beside
  it, a mask pixel being the class index (255: ignored); class names from ``root/classes.txt`` (one per line),
  else ``class_0 ...`` up to the largest index found.
* Detection, COCO-style: ``root/annotations.json`` (``images`` with ``id`` and ``file_name``, ``annotations``
  with ``image_id``, ``bbox`` as ``x, y, w, h`` and ``category_id``, ``categories`` with ``id`` and ``name``) and
  the images under ``root/images/`` (else ``root/``). Category ids become classes 0..K-1 in id order; crowd
  annotations are left out, as COCO's evaluation leaves them out of the matching.

Items are ``(image (C, H, W) float in [0, 1], DenseTarget)``, the same as the Fashion-MNIST mosaics'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .base import seeded_subset
from .image_folder import IMAGE_EXTENSIONS

IGNORE_INDEX = 255


@dataclass(frozen=True)
class DenseTarget:
    """What one image holds: ``mask`` (H, W) int64 classes (segmentation; None for detection data), ``boxes``
    (N, 4) float32 ``x0, y0, x1, y1`` and ``labels`` (N,) int64 (detection; empty for segmentation data)."""

    mask: torch.Tensor | None
    boxes: torch.Tensor
    labels: torch.Tensor


_NO_BOXES = (torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))


class DenseDataset(Dataset):
    """What the trainer asks of a dense dataset, once: ``classes``, ``channels``, :meth:`limit` to a seeded
    subset and :meth:`set_epoch` (a no-op: dense items are not augmented). Subclasses implement ``_size()``
    and ``_item(i)``. Items come as tensors in [0, 1]; the model normalises them (``dense.DenseModel``)."""

    classes: tuple[str, ...] = ()  # of the class map (segmentation), background included where it is one
    channels: int = 3

    @property
    def box_classes(self) -> tuple[str, ...]:
        """The classes of the boxes (detection): the dataset's classes unless it says otherwise."""
        return self.classes

    transform = None
    _keep: torch.Tensor | None = None

    def _size(self) -> int:
        raise NotImplementedError

    def _item(self, index: int) -> tuple[torch.Tensor, DenseTarget]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._keep) if self._keep is not None else self._size()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, DenseTarget]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return self._item(int(self._keep[index]) if self._keep is not None else index)

    def limit(self, count: int | None, seed: int = 0) -> DenseDataset:
        """Keep a fixed random subset of ``count`` items (quick runs and tests); returns ``self``."""
        if count is not None and count < len(self):
            if count <= 0:
                raise ValueError(f"a dataset limit must be positive, got {count}")
            self._keep = seeded_subset(len(self), count, seed)
        return self

    def set_epoch(self, epoch: int) -> None:
        """Nothing changes between epochs (the loader calls it on every dataset)."""


def _image(path: Path, channels: int) -> torch.Tensor:
    with Image.open(path) as img:
        array = np.asarray(img.convert("L" if channels == 1 else "RGB"))
    tensor = torch.from_numpy(array.copy()).float().div_(255)
    return tensor.unsqueeze(0) if channels == 1 else tensor.permute(2, 0, 1)


def _largest_class(mask: torch.Tensor) -> int:
    labelled = mask[mask != IGNORE_INDEX]
    return int(labelled.max()) if len(labelled) else 0


class SegmentationFolder(DenseDataset):
    """``root/images`` + ``root/masks`` (see the module docstring); ``channels`` 1 or 3."""

    def __init__(self, root: str | Path, channels: int = 3):
        root = Path(root)
        images, masks = root / "images", root / "masks"
        if not images.is_dir() or not masks.is_dir():
            raise FileNotFoundError(f"{root} needs images/ and masks/ folders (masks/<name>.png per images/<name>.*)")
        self.samples = []
        for path in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
            mask = masks / f"{path.stem}.png"
            if not mask.is_file():
                raise FileNotFoundError(f"{path} has no mask {mask}; every image needs masks/<its name>.png")
            self.samples.append((path, mask))
        if not self.samples:
            raise FileNotFoundError(f"{images} holds no images")
        self.channels = channels
        names = root / "classes.txt"
        if names.is_file():
            self.classes = tuple(line.strip() for line in names.read_text().splitlines() if line.strip())
        else:
            largest = max(_largest_class(self._mask(i)) for i in range(len(self.samples)))
            self.classes = tuple(f"class_{k}" for k in range(largest + 1))

    def _size(self) -> int:
        return len(self.samples)

    def _mask(self, index: int) -> torch.Tensor:
        with Image.open(self.samples[index][1]) as img:
            if img.mode not in ("L", "P"):
                raise ValueError(f"{self.samples[index][1]} is a {img.mode} image; a mask is one channel of class "
                                 "indices (mode L or P)")  # fmt: skip
            return torch.from_numpy(np.asarray(img).astype(np.int64))

    def _item(self, index: int) -> tuple[torch.Tensor, DenseTarget]:
        image, mask = _image(self.samples[index][0], self.channels), self._mask(index)
        if image.shape[-2:] != mask.shape:
            raise ValueError(f"{self.samples[index][0]} is {tuple(image.shape[-2:])} but its mask "
                             f"{tuple(mask.shape)}; they must have one size")  # fmt: skip
        return image, DenseTarget(mask, *_NO_BOXES)


class CocoDetection(DenseDataset):
    """``root/annotations.json`` + the images it names (see the module docstring); ``channels`` 1 or 3."""

    def __init__(self, root: str | Path, channels: int = 3, annotations: str = "annotations.json"):
        root = Path(root)
        path = root / annotations
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{root} has no {annotations} (COCO-style boxes)") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err})") from None
        missing = [key for key in ("images", "annotations", "categories") if key not in doc]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}; a COCO file has images, annotations and categories")
        categories = sorted(doc["categories"], key=lambda c: c["id"])
        self.classes = tuple(c.get("name", str(c["id"])) for c in categories)
        index_of = {c["id"]: k for k, c in enumerate(categories)}
        folder = root / "images" if (root / "images").is_dir() else root
        self.images = [(image["id"], folder / image["file_name"]) for image in doc["images"]]
        self.boxes: dict[int, list] = {image_id: [] for image_id, _ in self.images}
        for ann in doc["annotations"]:
            if ann.get("iscrowd"):
                continue
            if ann["category_id"] not in index_of or ann["image_id"] not in self.boxes:
                raise ValueError(f"{path}: annotation {ann.get('id')} names an unknown category or image")
            x, y, w, h = ann["bbox"]
            self.boxes[ann["image_id"]].append(([x, y, x + w, y + h], index_of[ann["category_id"]]))
        self.channels = channels

    def _size(self) -> int:
        return len(self.images)

    def _item(self, index: int) -> tuple[torch.Tensor, DenseTarget]:
        image_id, path = self.images[index]
        found = self.boxes[image_id]
        boxes = torch.tensor([b for b, _ in found], dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor([c for _, c in found], dtype=torch.long)
        return _image(path, self.channels), DenseTarget(None, boxes, labels)


def collate_dense(batch: list[tuple[torch.Tensor, DenseTarget]]) -> tuple[torch.Tensor, list[DenseTarget]]:
    """A batch of dense items: the images stacked (they must share one size), the targets as a list."""
    sizes = {tuple(image.shape) for image, _ in batch}
    if len(sizes) > 1:
        raise ValueError(f"a batch holds images of sizes {sorted(sizes)}; resize the images to one size or use "
                         "batch size 1")  # fmt: skip
    return torch.stack([image for image, _ in batch]), [target for _, target in batch]

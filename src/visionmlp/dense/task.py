"""A backbone and a dense head as one model, with what training and scoring it need: the loss of a batch of
:class:`~visionmlp.data.dense.DenseTarget`, predictions, and the scores over a loader (mIoU for segmentation,
COCO mAP for detection). What ``visionmlp train --task segment|detect`` is built on."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..data.dense import IGNORE_INDEX, DenseTarget, collate_dense
from ..train.config import HEADLINE
from .coco_map import coco_map
from .detect import FCOS, fcos_detect, fcos_loss
from .metrics import ConfusionMatrix
from .segment import SemanticFPN

TASKS = tuple(HEADLINE)
__all__ = ["HEADLINE", "TASKS", "DenseModel", "collate_dense", "evaluate_dense"]


class DenseModel(nn.Module):
    """``task`` ``segment`` (Semantic FPN) or ``detect`` (FCOS) over a ``features_only`` ``backbone``. It takes
    images in [0, 1] and normalises them with the backbone's mean and std (its ``pretrained_cfg``), as the
    classification transforms do. ``head_kwargs`` go to the head (widths, tower depth)."""

    def __init__(self, task: str, backbone: nn.Module, num_classes: int, **head_kwargs):
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"unknown dense task {task!r}; valid tasks: {', '.join(TASKS)}")
        self.task, self.num_classes = task, num_classes
        head = SemanticFPN if task == "segment" else FCOS
        self.head = head(backbone, num_classes, **head_kwargs)
        cfg = backbone.pretrained_cfg
        self.register_buffer("mean", torch.tensor(cfg.mean).reshape(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg.std).reshape(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor):
        return self.head((images - self.mean) / self.std)

    def loss(self, outputs, targets: list[DenseTarget]) -> torch.Tensor:
        if self.task == "segment":
            masks = torch.stack([t.mask for t in targets]).to(outputs.device)
            return F.cross_entropy(outputs.float(), masks, ignore_index=IGNORE_INDEX)
        return fcos_loss(outputs, [t.boxes for t in targets], [t.labels for t in targets])["loss"]

    def score(self, batches: Iterable[tuple[torch.Tensor, list[DenseTarget]]]) -> dict:
        """:func:`evaluate_dense` of this model: what the trainer validates with."""
        return evaluate_dense(self, batches)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> list:
        """Per image: the class map (segment) or its :class:`~visionmlp.dense.detect.Detections` (detect)."""
        outputs = self(images)
        if self.task == "segment":
            return list(outputs.argmax(1))
        return fcos_detect(outputs, tuple(images.shape[-2:]))


@torch.no_grad()
def evaluate_dense(model: DenseModel, batches: Iterable[tuple[torch.Tensor, list[DenseTarget]]]) -> dict:
    """The task's scores over ``batches``: ``miou``, ``iou`` (per class) and ``pixel_accuracy`` for segmentation,
    ``map`` (mAP@[.5:.95]) and ``map50`` for detection (by pycocotools, ``coco_map.py``)."""
    was_training = model.training
    model.eval()
    device = model.mean.device
    if model.task == "segment":
        matrix = ConfusionMatrix(model.num_classes, ignore_index=IGNORE_INDEX)
        for images, targets in batches:
            for pred, target in zip(model.predict(images.to(device)), targets, strict=True):
                matrix.update(pred.cpu(), target.mask)
        scores = matrix.scores()
        result = {"miou": scores.miou, "iou": scores.iou, "pixel_accuracy": scores.pixel_accuracy}
    else:
        found, boxes, labels = [], [], []
        for images, targets in batches:
            found += model.predict(images.to(device))
            boxes += [t.boxes for t in targets]
            labels += [t.labels for t in targets]
        result = coco_map(found, boxes, labels)
    model.train(was_training)
    return result

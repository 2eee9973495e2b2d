"""Segmentation scores: a confusion matrix accumulated over images, and the IoU per class and its mean from it
(ADE20K's and mmseg's mIoU: intersection over union per class over the whole set, averaged over the classes
that occur in the labels or the predictions)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


class ConfusionMatrix:
    """``update(pred, target)`` with class maps of one shape; ``ignore_index`` pixels of the target are skipped."""

    def __init__(self, num_classes: int, ignore_index: int | None = None):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)  # [target, prediction]

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        if pred.shape != target.shape:
            raise ValueError(f"predictions {tuple(pred.shape)} and labels {tuple(target.shape)} differ in shape")
        keep = target != self.ignore_index if self.ignore_index is not None else torch.ones_like(target, dtype=bool)
        pred, target = pred[keep].long().cpu(), target[keep].long().cpu()
        if len(target) and (target.min() < 0 or target.max() >= self.num_classes or pred.min() < 0
                            or pred.max() >= self.num_classes):  # fmt: skip
            raise ValueError(f"class indices must lie in 0..{self.num_classes - 1}")
        self.matrix += torch.bincount(target * self.num_classes + pred, minlength=self.num_classes**2).reshape(
            self.num_classes, self.num_classes
        )

    def scores(self) -> SegmentationScores:
        return segmentation_scores(self.matrix)


@dataclass(frozen=True)
class SegmentationScores:
    miou: float  # mean over the classes present in labels or predictions
    iou: list[float | None]  # per class; None where the class occurs in neither
    pixel_accuracy: float


def segmentation_scores(matrix: torch.Tensor) -> SegmentationScores:
    """IoU_c = TP_c / (TP_c + FP_c + FN_c) from a [target, prediction] confusion matrix."""
    matrix = matrix.double()
    tp = matrix.diag()
    union = matrix.sum(0) + matrix.sum(1) - tp
    iou = [float(t / u) if u > 0 else None for t, u in zip(tp, union, strict=True)]
    present = [v for v in iou if v is not None]
    total = matrix.sum()
    return SegmentationScores(
        miou=sum(present) / len(present) if present else float("nan"),
        iou=iou,
        pixel_accuracy=float(tp.sum() / total) if total > 0 else float("nan"),
    )

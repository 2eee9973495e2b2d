"""Box arithmetic the detector needs, written here (no torchvision): IoU, generalised IoU and class-wise
non-maximum suppression. Boxes are ``(N, 4)`` tensors ``x0, y0, x1, y1`` in pixels."""

from __future__ import annotations

import torch


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(N, M)`` intersection over union of every box of ``a`` with every box of ``b``."""
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter / union.clamp(min=1e-9)


def generalized_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Element-wise GIoU of matching rows (Rezatofighi et al. 2019): IoU less the share of the enclosing box that
    neither covers; 1 for equal boxes, towards -1 for distant ones."""
    top_left = torch.maximum(a[:, :2], b[:, :2])
    bottom_right = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)
    union = box_area(a) + box_area(b) - inter
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).clamp(min=0).prod(-1)
    return inter / union.clamp(min=1e-9) - (hull - union) / hull.clamp(min=1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices of the kept boxes, highest score first. A box is dropped when it
    overlaps a kept, higher-scoring box by more than ``iou_threshold``."""
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    overlaps = box_iou(boxes, boxes) > iou_threshold
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i]
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """:func:`nms` within each class only: boxes of different classes never suppress each other (each class's
    boxes are moved apart by more than the image before one joint pass)."""
    if len(boxes) == 0:
        return torch.empty(0, dtype=torch.long)
    offset = classes.to(boxes.dtype)[:, None] * (boxes.max() + 1)
    return nms(boxes + offset, scores, iou_threshold)

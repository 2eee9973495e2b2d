"""FCOS (Tian et al. 2019, arXiv 1904.01355; with its v2 refinements): a one-stage, anchor-free detector over any
``features_only`` backbone.

Anchor-free rather than RetinaNet because it has nothing to tune to the data: every location of every FPN level
predicts a class score, its distances to the four sides of the box it lies in, and a centre-ness that ranks
off-centre predictions down, so the same head runs on a 96-pixel mosaic and on COCO, and on isotropic backbones
whose levels all share one stride. A ground-truth box trains the locations that lie near its centre (within 1.5
strides, "centre sampling") on the level whose size range holds its largest distance (8 strides per level, as
FCOS's 64/128/256/512 pixels at strides 8-64); a location inside several boxes takes the smallest. Losses: sigmoid
focal loss on the classes, GIoU on the positive boxes weighted by their centre-ness targets, binary cross-entropy
on the centre-ness. Box decoding and class-wise NMS are written here (``boxes.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .boxes import batched_nms, generalized_iou
from .fpn import FeaturePyramid


def _tower(channels: int, depth: int) -> nn.Sequential:
    layers = []
    for _ in range(depth):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(min(32, channels), channels), nn.ReLU()]
    return nn.Sequential(*layers)


@dataclass
class LevelOutput:
    """One FPN level's predictions: ``logits`` (B, K, H, W), ``distances`` (B, 4, H, W) to the box's left, top,
    right and bottom in pixels, ``centerness`` (B, 1, H, W) logits; ``stride`` of the level."""

    logits: torch.Tensor
    distances: torch.Tensor
    centerness: torch.Tensor
    stride: int


class FCOS(nn.Module):
    """``FCOS(backbone, num_classes)(images) -> [LevelOutput per FPN level]``; :func:`fcos_loss` trains it and
    :func:`fcos_detect` turns its outputs into boxes."""

    def __init__(
        self, backbone: nn.Module, num_classes: int, channels: int = 128, tower_depth: int = 4, prior: float = 0.01
    ):
        super().__init__()
        self.pyramid = FeaturePyramid(backbone, channels)
        self.num_classes = num_classes
        self.strides = list(self.pyramid.feature_info.reduction())
        self.cls_tower = _tower(channels, tower_depth)
        self.reg_tower = _tower(channels, tower_depth)
        self.cls_logits = nn.Conv2d(channels, num_classes, 3, padding=1)
        self.bbox_pred = nn.Conv2d(channels, 4, 3, padding=1)
        self.centerness = nn.Conv2d(channels, 1, 3, padding=1)
        self.scales = nn.Parameter(torch.ones(len(self.strides)))  # one learnt scale per level (shared head)
        for module in [*self.cls_tower, *self.reg_tower, self.cls_logits, self.bbox_pred, self.centerness]:
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=0.01)
                nn.init.zeros_(module.bias)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior) / prior))  # every location starts at `prior`

    def forward(self, x: torch.Tensor) -> list[LevelOutput]:
        outputs = []
        for level, (feature, stride) in enumerate(zip(self.pyramid(x), self.strides, strict=True)):
            cls, reg = self.cls_tower(feature), self.reg_tower(feature)
            distances = F.relu(self.scales[level] * self.bbox_pred(reg)) * stride  # v2: regress in strides
            outputs.append(LevelOutput(self.cls_logits(cls), distances, self.centerness(reg), stride))
        return outputs


def level_points(output: LevelOutput) -> torch.Tensor:
    """``(H * W, 2)`` pixel coordinates ``x, y`` of a level's locations: the centres of its cells."""
    h, w = output.logits.shape[-2:]
    s = output.stride
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack([xs.flatten() * s + s // 2, ys.flatten() * s + s // 2], dim=1).float()


def _size_ranges(strides: list[int]) -> list[tuple[float, float]]:
    """Each level's range of the largest distance it regresses: up to 8 strides, from where the next finer
    stride's range ends; the coarsest level takes everything above. Levels at one stride share one range."""
    distinct = sorted(set(strides))
    bounds = {s: (8.0 * distinct[i - 1] if i else 0.0, 8.0 * s if i < len(distinct) - 1 else math.inf)
              for i, s in enumerate(distinct)}  # fmt: skip
    return [bounds[s] for s in strides]


@dataclass(frozen=True)
class Locations:
    """Every location of all levels, in :func:`_flatten`'s order: ``points`` (P, 2) the pixel centres, ``strides``
    (P,) their level's stride, ``lo``/``hi`` (P,) the range of the largest distance each regresses. The same for
    every image of a batch, so a batch makes it once (:meth:`of`)."""

    points: torch.Tensor
    strides: torch.Tensor
    lo: torch.Tensor
    hi: torch.Tensor

    @classmethod
    def of(cls, outputs: list[LevelOutput]) -> Locations:
        per_level = [level_points(o) for o in outputs]

        def repeat(values) -> torch.Tensor:  # one value per level, repeated over the level's locations
            return torch.cat([torch.full((len(p),), float(v)) for p, v in zip(per_level, values, strict=True)])

        ranges = _size_ranges([o.stride for o in outputs])
        return cls(torch.cat(per_level), repeat(o.stride for o in outputs), repeat(r[0] for r in ranges),
                   repeat(r[1] for r in ranges))  # fmt: skip


@dataclass
class Targets:
    """Per location of all levels of one image: ``labels`` (P,) class or -1 for background, ``distances``
    (P, 4) and ``centerness`` (P,) targets (meaningful where ``labels >= 0``)."""

    labels: torch.Tensor
    distances: torch.Tensor
    centerness: torch.Tensor


def fcos_targets(locations: Locations, boxes: torch.Tensor, labels: torch.Tensor, radius: float = 1.5) -> Targets:
    """The training targets of one image with ground truth ``boxes`` (G, 4) and ``labels`` (G,)."""
    points, strides, lo, hi = locations.points, locations.strides, locations.lo, locations.hi
    n = len(points)
    if len(boxes) == 0:
        return Targets(torch.full((n,), -1, dtype=torch.long), torch.zeros(n, 4), torch.zeros(n))
    x, y = points[:, 0:1], points[:, 1:2]  # (P, 1) against (1, G)
    sides = torch.stack([x - boxes[:, 0], y - boxes[:, 1], boxes[:, 2] - x, boxes[:, 3] - y], dim=2)  # (P, G, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    reach = radius * strides[:, None]
    near = ((x - centre[:, 0]).abs() < reach) & ((y - centre[:, 1]).abs() < reach)  # centre sampling
    largest = sides.max(dim=2).values
    valid = (sides.min(dim=2).values > 0) & near & (largest >= lo[:, None]) & (largest <= hi[:, None])
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[None, :].expand(n, -1)
    area = torch.where(valid, area, torch.full_like(area, math.inf))
    smallest, which = area.min(dim=1)
    positive = torch.isfinite(smallest)
    target_labels = torch.where(positive, labels[which], torch.full_like(which, -1))
    distances = sides[torch.arange(n), which]
    lr, tb = distances[:, [0, 2]], distances[:, [1, 3]]
    ctr = (lr.min(1).values / lr.max(1).values.clamp(min=1e-9)) * (tb.min(1).values / tb.max(1).values.clamp(min=1e-9))
    return Targets(target_labels, distances, torch.where(positive, ctr.clamp(min=0).sqrt(), torch.zeros_like(ctr)))


def _flatten(outputs: list[LevelOutput]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, P, K) logits, (B, P, 4) distances, (B, P) centre-ness over all levels, in :func:`fcos_targets`' order."""
    logits = torch.cat([o.logits.flatten(2).transpose(1, 2) for o in outputs], dim=1)
    distances = torch.cat([o.distances.flatten(2).transpose(1, 2) for o in outputs], dim=1)
    centerness = torch.cat([o.centerness.flatten(1) for o in outputs], dim=1)
    return logits, distances, centerness


def fcos_loss(
    outputs: list[LevelOutput], boxes: list[torch.Tensor], labels: list[torch.Tensor], alpha: float = 0.25,
    gamma: float = 2.0,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Focal, GIoU and centre-ness losses of a batch (``boxes``/``labels``: one tensor per image) and their sum."""
    logits, distances, centerness = (t.float() for t in _flatten(outputs))
    locations = Locations.of(outputs)
    targets = [fcos_targets(locations, b, c) for b, c in zip(boxes, labels, strict=True)]
    target_labels = torch.stack([t.labels for t in targets]).to(logits.device)
    positive = target_labels >= 0
    num_pos = max(1.0, float(positive.sum()))
    onehot = F.one_hot(target_labels.clamp(min=0), logits.shape[-1]).float() * positive[..., None]
    classification = _focal_loss(logits, onehot, alpha, gamma).sum() / num_pos
    target_distances = torch.stack([t.distances for t in targets]).to(logits.device)[positive]
    target_ctr = torch.stack([t.centerness for t in targets]).to(logits.device)[positive]
    if positive.any():
        zero = torch.zeros_like(target_distances[:, :2])
        pred_box = torch.cat([zero - distances[positive][:, :2], distances[positive][:, 2:]], dim=1)
        true_box = torch.cat([zero - target_distances[:, :2], target_distances[:, 2:]], dim=1)
        giou = generalized_iou(pred_box, true_box)
        regression = ((1 - giou) * target_ctr).sum() / target_ctr.sum().clamp(min=1e-9)
        ctr = F.binary_cross_entropy_with_logits(centerness[positive], target_ctr, reduction="sum") / num_pos
    else:  # no box in the batch: only the classifier learns (that everything is background)
        regression = ctr = distances.sum() * 0
    return {"classification": classification, "regression": regression, "centerness": ctr,
            "loss": classification + regression + ctr}  # fmt: skip


def _focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float, gamma: float) -> torch.Tensor:
    """Lin et al. 2017's sigmoid focal loss per element."""
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    return (alpha * targets + (1 - alpha) * (1 - targets)) * (1 - p_t) ** gamma * ce


@dataclass
class Detections:
    """One image's detections, best first: ``boxes`` (N, 4) ``x0, y0, x1, y1``, ``scores`` (N,), ``labels`` (N,)."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor


@torch.no_grad()
def fcos_detect(
    outputs: list[LevelOutput], image_size: tuple[int, int], score_threshold: float = 0.05, nms_threshold: float = 0.6,
    max_detections: int = 100, candidates: int = 1000,
) -> list[Detections]:  # fmt: skip
    """Boxes from the outputs: score = sqrt(class probability x centre-ness), the best ``candidates`` above
    ``score_threshold``, boxes clipped to the image, class-wise NMS, at most ``max_detections`` per image."""
    logits, distances, centerness = (t.float() for t in _flatten(outputs))
    points = torch.cat([level_points(o) for o in outputs]).to(logits.device)
    scores = (logits.sigmoid() * centerness.sigmoid()[..., None]).sqrt()  # (B, P, K)
    height, width = image_size
    result = []
    for b in range(scores.shape[0]):
        flat = scores[b].flatten()
        keep = (flat > score_threshold).nonzero().squeeze(1)
        keep = keep[flat[keep].argsort(descending=True)[:candidates]]
        where, label = keep // scores.shape[-1], keep % scores.shape[-1]
        d = distances[b, where]
        box = torch.stack([points[where, 0] - d[:, 0], points[where, 1] - d[:, 1],
                           points[where, 0] + d[:, 2], points[where, 1] + d[:, 3]], dim=1)  # fmt: skip
        box[:, 0::2] = box[:, 0::2].clamp(0, width)
        box[:, 1::2] = box[:, 1::2].clamp(0, height)
        kept = batched_nms(box, flat[keep], label, nms_threshold)[:max_detections]
        result.append(Detections(box[kept], flat[keep][kept], label[kept]))
    return result

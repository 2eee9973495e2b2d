"""COCO-style detection scores by the established evaluator (``pycocotools``: ``pip install 'visionmlp[dense]'``),
fed in memory: mAP averaged over IoU thresholds 0.50:0.95 and at 0.50, over the classes with ground truth."""

from __future__ import annotations

import contextlib
import io

import torch

from .detect import Detections


def coco_map(detections: list[Detections], boxes: list[torch.Tensor], labels: list[torch.Tensor]) -> dict[str, float]:
    """``{"map": mAP@[.5:.95], "map50": mAP@.5}`` of one detection list per image against its ground truth
    ``boxes`` (G, 4) ``x0, y0, x1, y1`` and ``labels`` (G,); NaN where no image has a box."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise ImportError("detection scores need pycocotools: pip install 'visionmlp[dense]'") from None
    classes = sorted({int(c) for c in torch.cat([*labels, torch.empty(0, dtype=torch.long)]).tolist()})
    if not classes:
        return {"map": float("nan"), "map50": float("nan")}
    truth_boxes = [(i, b, c) for i, (bs, cs) in enumerate(zip(boxes, labels, strict=True))
                   for b, c in zip(bs.tolist(), cs.tolist(), strict=True)]  # fmt: skip
    annotations = [
        {"id": k, "image_id": i, "category_id": c + 1, "bbox": _xywh(b), "area": _area(b), "iscrowd": 0}
        for k, (i, b, c) in enumerate(truth_boxes, start=1)
    ]
    truth = COCO()
    truth.dataset = {"images": [{"id": i} for i in range(len(boxes))], "annotations": annotations,
                     "categories": [{"id": c + 1} for c in range(max(classes) + 1)]}  # fmt: skip
    found = [
        {"image_id": i, "category_id": int(c) + 1, "bbox": _xywh(b), "score": float(s)}
        for i, d in enumerate(detections)
        for b, s, c in zip(d.boxes.tolist(), d.scores.tolist(), d.labels.tolist(), strict=True)
    ]
    if not found:
        return {"map": 0.0, "map50": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools reports each phase on stdout
        truth.createIndex()
        evaluator = COCOeval(truth, truth.loadRes(found), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {"map": float(evaluator.stats[0]), "map50": float(evaluator.stats[1])}


def _area(box) -> float:
    return float((box[2] - box[0]) * (box[3] - box[1]))


def _xywh(box) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [x0, y0, x1 - x0, y1 - y0]

"""Dense prediction on top of ``features_only`` backbones: the FPN neck, the Semantic FPN segmentation head and
its mIoU, and the FCOS detector with its loss, decoding and NMS (COCO mAP in ``coco_map``, which needs
pycocotools)."""

from .detect import FCOS, Detections, fcos_detect, fcos_loss
from .fpn import FPN, FeaturePyramid
from .metrics import ConfusionMatrix, SegmentationScores, segmentation_scores
from .segment import SemanticFPN
from .task import TASKS, DenseModel, collate_dense, evaluate_dense

__all__ = [
    "FCOS",
    "FPN",
    "TASKS",
    "ConfusionMatrix",
    "DenseModel",
    "Detections",
    "FeaturePyramid",
    "SegmentationScores",
    "SemanticFPN",
    "fcos_detect",
    "fcos_loss",
    "collate_dense",
    "evaluate_dense",
    "segmentation_scores",
]

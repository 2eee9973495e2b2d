"""Dense prediction on top of ``features_only`` backbones: the FPN neck, the Semantic FPN segmentation head and
its scores."""

from .fpn import FPN, FeaturePyramid
from .metrics import ConfusionMatrix, SegmentationScores, segmentation_scores
from .segment import SemanticFPN

__all__ = ["FPN", "ConfusionMatrix", "FeaturePyramid", "SegmentationScores", "SemanticFPN", "segmentation_scores"]

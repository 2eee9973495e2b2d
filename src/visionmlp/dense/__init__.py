"""Dense-prediction necks on top of ``features_only`` backbones."""

from .fpn import FPN, FeaturePyramid

__all__ = ["FPN", "FeaturePyramid"]

"""Training loops."""

from .quick import QuickResult, evaluate_top1, train_quick

__all__ = ["QuickResult", "evaluate_top1", "train_quick"]

"""Feature-pyramid bookkeeping for ``features_only=True`` (timm's ``feature_info`` surface)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class FeatureInfo(list):
    """A list of ``{"num_chs", "reduction", "module"}`` dicts, one per map a backbone can return."""

    def channels(self) -> list[int]:
        return [f["num_chs"] for f in self]

    def reduction(self) -> list[int]:
        return [f["reduction"] for f in self]

    def module_name(self) -> list[str]:
        return [f["module"] for f in self]


def resolve_indices(indices: int | Sequence[int] | None, count: int, default: Sequence[int]) -> list[int]:
    """Turn ``out_indices`` (ints, negatives from the end, or an int n meaning "the last n") into positions.

    Raises a ValueError naming the valid range when an index does not exist.
    """
    if indices is None:
        indices = default
    if isinstance(indices, int) and not isinstance(indices, bool):
        if not 1 <= indices <= count:
            raise ValueError(f"out_indices={indices} asks for the last {indices} maps; this model has {count}")
        return list(range(count - indices, count))
    resolved = []
    for i in indices:
        if not isinstance(i, int) or isinstance(i, bool) or not -count <= i < count:
            raise ValueError(
                f"out_indices entry {i!r} is out of range: this model has {count} feature maps, "
                f"valid indices are 0..{count - 1} (or -{count}..-1)"
            )
        resolved.append(i % count)
    if len(set(resolved)) != len(resolved) or resolved != sorted(resolved):
        raise ValueError(f"out_indices must be increasing and distinct, got {list(indices)}")
    return resolved


def tokens_to_nchw(x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(B, H*W, C) tokens -> (B, C, H, W) map."""
    b, n, c = x.shape
    return x.transpose(1, 2).reshape(b, c, grid[0], grid[1])

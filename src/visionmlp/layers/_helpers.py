"""Tiny argument helpers shared by the layers."""

from collections.abc import Iterable


def to_2tuple(value) -> tuple[int, int]:
    """Accept an int or a pair and return a pair of ints (heights first)."""
    if isinstance(value, Iterable) and not isinstance(value, str):
        pair = tuple(int(v) for v in value)
        if len(pair) != 2:
            raise ValueError(f"expected an int or a (height, width) pair, got {value!r}")
        return pair
    return (int(value), int(value))

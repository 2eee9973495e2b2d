"""Counting the numbered blocks of a foreign state dict, so a converter knows which keys to expect."""

from __future__ import annotations

import re

from ._common import KeyReader, StateDictMismatchError


def count_blocks(reader: KeyReader, prefix: str, *, may_be_empty: bool = False) -> int:
    """1 + the largest ``i`` of the keys ``<prefix><i><sep>...`` (``blocks.3.norm1.alpha`` -> 4 for ``blocks.``);
    none is a missing block unless ``may_be_empty`` (a part that a configuration can leave out), then 0.

    Counting from the largest index, not the number of distinct ones, lets a missing key of any block be
    reported by name when the converter takes it.
    """
    pattern = re.compile(re.escape(prefix) + r"(\d+)\b")
    found = [int(m.group(1)) for key in reader.keys(prefix) if (m := pattern.match(key))]
    if not found and not may_be_empty:
        raise StateDictMismatchError(reader.source, missing=[f"{prefix}0..."])
    return 1 + max(found, default=-1)

"""Run logs on rank 0: ``summary.csv`` (one row per epoch, rewritten atomically) and TensorBoard
scalars when ``torch.utils.tensorboard`` imports (the ``tensorboard`` package; else a one-line notice)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from ..utils.atomic import atomic_write_text


class RunLogger:
    def __init__(self, folder: Path | None, log: Callable[[str], None] = print):
        self.folder = folder
        self.writer = None
        if folder is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log("TensorBoard logs off: install the tensorboard package to get them (summary.csv is written)")
        else:
            self.writer = SummaryWriter(str(folder / "tensorboard"))

    def step(self, step: int, values: dict[str, float]) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"train/{key}", value, step)

    def epoch(self, rows: list[dict]) -> None:
        """Write every epoch row so far to ``summary.csv`` and the last one to TensorBoard."""
        if self.folder is None or not rows:
            return
        fields = list(dict.fromkeys(key for row in rows for key in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.folder / "summary.csv", buffer.getvalue())
        if self.writer is not None:
            last = rows[-1]
            for key, value in last.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"epoch/{key}", value, last["epoch"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

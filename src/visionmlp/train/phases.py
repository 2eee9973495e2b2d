"""Where a training epoch's time goes: wall seconds per phase (data, forward, backward, optimizer, EMA,
validation), logged at each epoch's end and kept in ``summary.csv``, so that waste shows in every run.

CPU wall time: on a GPU, work is queued asynchronously and a phase's seconds follow when the host waited, not
when the kernels ran (``loss.item()`` in the forward phase is where it waits).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

PHASES = ("data", "forward", "backward", "optimizer", "ema", "validation")


class PhaseClock:
    def __init__(self):
        self.seconds = dict.fromkeys(PHASES, 0.0)

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start

    def summary(self) -> str:
        """``data 3%, forward 41%, ...`` of the time measured so far."""
        total = sum(self.seconds.values()) or 1.0
        return ", ".join(f"{phase} {100 * s / total:.0f}%" for phase, s in self.seconds.items())

    def columns(self) -> dict[str, float]:
        return {f"{phase}_s": round(s, 3) for phase, s in self.seconds.items()}

    def reset(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)

"""Where a training epoch's time goes: wall seconds per phase (data, forward, backward, optimizer, EMA,
validation), logged at each epoch's end and kept in ``summary.csv``, so that waste shows in every run.

CPU wall time: on a GPU, work is queued asynchronously and a phase's seconds follow when the host waited, not
when the kernels ran (``loss.item()`` in the forward phase is where it waits).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator, Sequence

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

    @property
    def total(self) -> float:
        """Wall seconds measured since the last reset (the epoch's, when read at its end)."""
        return sum(self.seconds.values())

    def summary(self) -> str:
        """``74 s: data 3%, forward 41%, ...`` of the time measured so far."""
        total = self.total or 1.0
        shares = ", ".join(f"{phase} {100 * s / total:.0f}%" for phase, s in self.seconds.items())
        return f"{self.total:.0f} s: {shares}"

    def columns(self) -> dict[str, float]:
        return {f"{phase}_s": round(s, 3) for phase, s in self.seconds.items()}

    def reset(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)


def time_left(epoch_seconds: Sequence[float], epochs_left: int, budget_left: float | None = None) -> str:
    """``about 1 h 06 min`` to the run's end at the median of the epochs timed so far (capped by what a time
    budget leaves), so that a long run says when it will end. The median, not the last epoch: one epoch that was
    paused or shared the machine would otherwise move the estimate by hours."""
    seconds = statistics.median(epoch_seconds) * epochs_left
    if budget_left is not None:
        seconds = min(seconds, max(0.0, budget_left))
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min" if hours else f"about {minutes} min"

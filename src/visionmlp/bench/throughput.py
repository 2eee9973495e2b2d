"""Timing: warm-up, timed rounds, statistics; inference and training steps; peak memory.

Every measurement is a list of per-round seconds summarised by median, min and max, because the
machines these run on are shared and a single number hides the noise. :func:`alternate` times several
steps in turn within each round, so that steps compared with each other (a model and the matmul that
bounds it, ours and timm's) see the same machine load; their per-round ratios are what reports quote.
"""

from __future__ import annotations

import statistics
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

Step = Callable[[], object]


@dataclass(frozen=True)
class Stats:
    """Median, min and max of a list of samples, with the samples."""

    median: float
    min: float
    max: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples) -> Stats:
        samples = tuple(float(s) for s in samples)
        if not samples:
            raise ValueError("no samples to summarise")
        return cls(statistics.median(samples), min(samples), max(samples), samples)

    def map(self, fn: Callable[[float], float]) -> Stats:
        """The statistics of ``fn`` applied to every sample (monotone ``fn`` keep median/min/max apart)."""
        return Stats.of(fn(s) for s in self.samples)

    def to_dict(self) -> dict:
        return {**asdict(self), "samples": list(self.samples)}

    def __format__(self, spec: str) -> str:
        """``f"{stats:.2f}"`` reads "median (min-max)", the way the benchmark scripts print a ratio."""
        return f"{self.median:{spec}} ({self.min:{spec}}-{self.max:{spec}})"


def per_round_ratio(numerator: Stats, denominator: Stats) -> Stats:
    """``numerator / denominator`` round by round, for two steps timed by :func:`alternate`: the figure a
    side-by-side comparison quotes, since both sides of a round saw the same machine load."""
    return Stats.of(a / b for a, b in zip(numerator.samples, denominator.samples, strict=True))


def synchronizer(device: torch.device) -> Callable[[], None]:
    """What makes a timed step finish before the clock stops on ``device``."""
    if device.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def alternate(steps: Mapping[str, Step], rounds: int, warmup: int, sync: Callable[[], None]) -> dict[str, Stats]:
    """Seconds per call of each step, the steps timed in turn within every round (A B A B ...)."""
    if rounds < 1 or warmup < 0:
        raise ValueError(f"need rounds >= 1 and warmup >= 0, got rounds={rounds}, warmup={warmup}")
    for _ in range(warmup):
        for step in steps.values():
            step()
        sync()
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            sync()
            start = time.perf_counter()
            step()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: Stats.of(t) for name, t in times.items()}


def inference_step(model: nn.Module, x: torch.Tensor) -> Step:
    """One forward pass without autograd (the model should be in eval mode)."""

    def step():
        with torch.inference_mode():
            return model(x)

    return step


def with_autocast(step, autocast: torch.autocast | None):
    """``step`` run under ``autocast`` (None: as it is). The context is entered afresh at every call, so one
    ``torch.autocast`` serves every round of a timing loop."""
    if autocast is None:
        return step

    def run():
        with autocast:
            return step()

    return run


def training_step(model: nn.Module, x: torch.Tensor, num_classes: int, autocast: torch.autocast | None) -> Step:
    """Forward, cross-entropy against fixed labels, backward and an AdamW step (what a training loop does)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    target = torch.randint(0, max(num_classes, 1), (x.shape[0],), device=x.device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        if autocast is None:
            loss = F.cross_entropy(model(x).float(), target)
        else:
            with autocast:
                loss = F.cross_entropy(model(x).float(), target)
        loss.backward()
        optimizer.step()

    return step


class _LiveTensorBytes(TorchDispatchMode):
    """Tracks the bytes of storages created by ops while active; ``peak`` is their high-water mark."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0
        self._tracked: set[int] = set()

    def _free(self, key: int, nbytes: int) -> None:
        self._tracked.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and not t.is_meta:
                storage = t.untyped_storage()
                key = id(storage)
                if key not in self._tracked:  # a view of a storage already counted adds nothing
                    self._tracked.add(key)
                    self.live += storage.nbytes()
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(storage, self._free, key, storage.nbytes())
        return out


def peak_memory(step: Step, device: torch.device) -> int:
    """Peak bytes allocated by one call of ``step`` beyond what existed before it.

    CUDA reports its allocator's peak. On CPU there is no allocator statistic, so the storages created
    by the step's ops are tracked while it runs (activations, gradients, optimizer state: what a larger
    batch would need more of).
    """
    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    tracker = _LiveTensorBytes()
    with tracker:
        step()
    return tracker.peak

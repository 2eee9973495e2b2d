"""What every study shares: budgets, arms, the parameter-matching check, training one arm for one seed,
and the statistics the verdicts are written in.

A study compares *arms* (a labelled model builder) under one training budget. Matching matters more than
absolute accuracy here: arms of a study must have parameter counts within ``PARAM_TOLERANCE`` of each
other (checked before anything trains, and loudly), get the same optimizer steps, batch size, learning
rate and augmentation, and are trained from the same seeds. Every reported point is the mean over seeds
with the sample standard deviation as its spread; "clearly" in a verdict rule means the two
``mean +- spread`` intervals do not overlap.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..data import ImageDataset
from ..train import TrainConfig, Trainer, evaluate
from ..train.checkpoint import seed_everything
from ..train.distributed import DistContext, resolve_device
from ..utils.precision import Precision, choose_precision
from ._data import Resampled, eval_loader

PARAM_TOLERANCE = 0.10


@dataclass(frozen=True)
class Budget:
    """How much training a run gets: ``steps`` optimizer steps of ``batch_size`` images per arm and seed.

    Runs are counted in steps rather than epochs so that arms (and, in data-scale, training-set sizes)
    get the same compute. ``eval_images`` test images are scored (None: the whole test set);
    ``train_eval_images`` training images are scored for the train/test gap.
    """

    name: str
    steps: int
    batch_size: int
    seeds: int
    eval_images: int | None
    train_eval_images: int
    lr: float = 2e-3
    workers: int | None = None


BUDGETS = {
    # a few steps on a few images: proves the pipeline end to end (make test)
    "tiny": Budget("tiny", steps=1, batch_size=8, seeds=2, eval_images=16, train_eval_images=16, workers=0),
    # at most 30 minutes per study on 2 CPU cores (the estimate is in each study's docstring)
    "small": Budget("small", steps=150, batch_size=64, seeds=2, eval_images=2000, train_eval_images=1000),
    # what committed results use
    "full": Budget("full", steps=1500, batch_size=128, seeds=3, eval_images=None, train_eval_images=5000),
}


@dataclass(frozen=True)
class Arm:
    """One model of a study: ``build()`` returns a freshly initialised model (from the global seed)."""

    label: str
    build: Callable[[], nn.Module]

    def params(self) -> int:
        """Parameter count, built on the meta device (nothing allocated)."""
        with torch.device("meta"):
            return count_params(self.build())


class ParamMismatchError(ValueError):
    """A study's arms are not matched in parameters: its comparison would not be fair."""


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def check_matched(params: dict[str, int], tolerance: float = PARAM_TOLERANCE) -> None:
    """Raise unless every count is within ``tolerance`` of the median count."""
    reference = statistics.median(params.values())
    off = {k: v for k, v in params.items() if abs(v - reference) > tolerance * reference}
    if off:
        listing = ", ".join(f"{k} {v:,}" for k, v in params.items())
        raise ParamMismatchError(
            f"arms not matched within {tolerance:.0%} of the median {reference:,.0f} parameters: "
            f"{', '.join(off)} off ({listing}); resize those arms"
        )


def fit_to(target: int, build: Callable[[float], nn.Module], values: Iterable[float]) -> float:
    """The value among ``values`` whose ``build(value)`` comes nearest ``target`` parameters.

    Studies use it to compensate an ablated part's parameters with the width of the channel MLP, so the
    comparison is of structure, not of size.
    """

    def distance(value: float) -> int:
        with torch.device("meta"):
            return abs(count_params(build(value)) - target)

    return min(values, key=distance)


def ratio_matched_arms(
    builders: dict[str, Callable[[float], nn.Module]], reference: str, ratio: float, ratios: Iterable[float]
) -> list[Arm]:
    """One arm per ``label -> build(mlp_ratio)``: the reference built at ``ratio``, every other arm at the
    ratio among ``ratios`` that brings it nearest the reference's parameters (see :func:`fit_to`)."""
    target = Arm(reference, lambda: builders[reference](ratio)).params()
    arms = []
    for label, build in builders.items():
        fitted = ratio if label == reference else fit_to(target, build, ratios)
        arms.append(Arm(label, lambda build=build, fitted=fitted: build(fitted)))
    return arms


@dataclass
class Trained:
    model: nn.Module
    test_top1: float
    seconds: float


def study_precision() -> Precision:
    """What every arm trains in: ``amp: auto`` (TrainConfig's default) on the device :func:`train_arm` picks."""
    return choose_precision("auto", resolve_device("auto"))


def train_arm(
    arm: Arm, train_set: ImageDataset, test_set: ImageDataset, budget: Budget, seed: int, log=None
) -> Trained:
    """Train ``arm`` from ``seed`` for ``budget.steps`` steps on ``train_set`` (cycled as often as the
    steps need) and score it on ``test_set``, with the library's ``Trainer`` (AdamW, warm-up + cosine), on
    the GPU when there is one (the model stays there)."""
    cfg = TrainConfig(
        model=arm.label, epochs=1, batch_size=budget.batch_size, lr=budget.lr, warmup_epochs=0.1, seed=seed,
        workers=budget.workers, progress=False, device="auto",
    )  # fmt: skip
    seed_everything(seed)
    model = arm.build()
    start = time.perf_counter()
    cycled = Resampled(train_set, budget.steps * budget.batch_size)
    result = Trainer(cfg, model, cycled, test_set, log=log or _quiet).fit()
    return Trained(model.eval(), result.last_eval.top1, time.perf_counter() - start)


def accuracy(model: nn.Module, dataset: ImageDataset, budget: Budget) -> float:
    """Top-1 of ``model`` on ``dataset`` (with its own transform), on the device the model is on."""
    ctx = DistContext(device=next(model.parameters()).device)
    return evaluate(model, eval_loader(dataset, budget.batch_size), len(dataset.classes), ctx).top1


def _quiet(_message: str) -> None:
    """The trainer's log inside a study (the study reports its own progress)."""


# ----- statistics ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """Mean and spread (sample standard deviation; 0 for one value) over seeds."""

    mean: float
    spread: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Point:
        values = [float(v) for v in values]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), spread, len(values))

    def clearly_above(self, other: Point) -> bool:
        """The intervals ``mean +- spread`` do not overlap and this one is higher."""
        return self.mean - self.spread > other.mean + other.spread

    def overlaps(self, other: Point) -> bool:
        return not (self.clearly_above(other) or other.clearly_above(self))

    def to_dict(self) -> dict:
        return {"mean": self.mean, "spread": self.spread, "n": self.n}

    def __str__(self) -> str:
        """An accuracy (a fraction) in %."""
        return f"{100 * self.mean:.2f} ± {100 * self.spread:.2f}" if math.isfinite(self.mean) else "n/a"

    def plain(self) -> str:
        """Any other quantity (a rate, a cost), with 4 significant digits."""
        return f"{self.mean:.4g} ± {self.spread:.3g}" if math.isfinite(self.mean) else "n/a"


def aggregate(runs: list[dict], keys: Sequence[str], metrics: Sequence[str]) -> list[dict]:
    """One row per distinct ``keys`` combination (in first-seen order), each metric a :class:`Point`."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in keys), []).append(run)
    return [
        {**dict(zip(keys, group, strict=True)), **{m: Point.of([r[m] for r in rows]) for m in metrics}}
        for group, rows in groups.items()
    ]


def lookup(table: list[dict], metric: str, **where) -> Point:
    """The ``metric`` point of the one row of ``table`` matching ``where``."""
    rows = [r for r in table if all(r[k] == v for k, v in where.items())]
    if len(rows) != 1:
        raise KeyError(f"expected one row with {where}, found {len(rows)}")
    return rows[0][metric]

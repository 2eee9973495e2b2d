"""The two plot shapes the studies need, with matplotlib's Agg backend (no display on these machines):
curves of a metric against a setting, and grouped bars. Error bars are the spread over seeds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..utils.atomic import atomic_path
from ._runner import Point


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves(
    path: Path, series: dict[str, tuple[Sequence[float], Sequence[Point]]], xlabel: str, ylabel: str, title: str,
    logx: bool = False, percent: bool = True,
) -> None:  # fmt: skip
    """One line per series: ``series[label] = (xs, points)``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    scale = 100 if percent else 1
    for label, (xs, points) in series.items():
        ax.errorbar(xs, [scale * p.mean for p in points], yerr=[scale * p.spread for p in points], marker="o",
                    capsize=3, label=label)  # fmt: skip
    if logx:
        ax.set_xscale("log")
    _finish(fig, ax, path, xlabel, ylabel, title)


def bars(path: Path, groups: Sequence[str], series: dict[str, Sequence[Point]], ylabel: str, title: str) -> None:
    """Grouped bars: ``series[label][i]`` is the bar of that label in group ``groups[i]``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.4, 0.9 * len(groups) * max(1, len(series))), 4.2))
    width = 0.8 / max(1, len(series))
    for k, (label, points) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, [100 * p.mean for p in points], width, yerr=[100 * p.spread for p in points], capsize=3,
               label=label)  # fmt: skip
    ax.set_xticks(range(len(groups)), groups, rotation=20 if len(groups) > 4 else 0, ha="right")
    _finish(fig, ax, path, "", ylabel, title)


MARKERS = "o^sDv"  # one marker per group of points, in the order the groups are first seen


def scatter(path: Path, points: dict[str, tuple[float, Point]], xlabel: str, ylabel: str, title: str,
            front: Sequence[str] = (), groups: dict[str, str] | None = None) -> None:  # fmt: skip
    """Labelled points ``(x, accuracy)`` on a log x axis; the labels in ``front`` are joined by a line.

    ``groups`` (label -> group name) gives each group its own marker and a legend entry, so that kinds of
    model the verdict treats differently are told apart in the picture too."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    groups = groups or {}
    marker = {g: MARKERS[i % len(MARKERS)] for i, g in enumerate(dict.fromkeys(groups.values()))}
    for label, (x, p) in points.items():
        ax.errorbar([x], [100 * p.mean], yerr=[100 * p.spread], marker=marker.get(groups.get(label), "o"),
                    capsize=3, color="tab:red" if label in front else "tab:blue")  # fmt: skip
        ax.annotate(label, (x, 100 * p.mean), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for group, m in marker.items():
        ax.scatter([], [], marker=m, color="gray", label=group)
    if front:
        ordered = sorted((points[k][0], 100 * points[k][1].mean) for k in front)
        ax.plot(*zip(*ordered, strict=True), color="tab:red", linewidth=1, label="Pareto front")
    ax.set_xscale("log")
    _finish(fig, ax, path, xlabel, ylabel, title)


def _finish(fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    fig.clf()
    _pyplot().close(fig)


def top1_bars(path: Path, table: list[dict], title: str) -> None:
    """One bar per arm: the test top-1 of a table with one row per arm."""
    bars(path, [r["arm"] for r in table], {"test top-1": [r["test_top1"] for r in table]}, "test top-1 (%)", title)

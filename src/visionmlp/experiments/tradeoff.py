"""tradeoff: accuracy against measured CPU inference throughput and MACs for every family's small variant
(``*_s*_28``): the Pareto plot the all-MLP papers draw against ViT and CNN baselines.

Setup: every registered 28x28 small variant (0.46-2.7 M parameters, *not* matched in parameters: each family's
own small configuration is what is being placed on the trade-off; they cost about 30 M MACs each, ConvMLP's
10 M aside), trained with the same budget, its MACs counted by ``bench.flops.model_cost``. Throughput is a
separate phase after all training: every model made ready by ``for_inference()`` (``fuse()``, then
``pack()``, as ``visionmlp benchmark --fuse --pack`` runs it: the fastest CPU path each family has) and timed
side by side with the benchmark harness's ``bench.throughput.alternate`` (float32, batch = the budget's
batch size, every model once per round, in turn), so that all of them see the same machine load and the
hours of training need no quiet machine: only the minute of timing does. The timed models are freshly built,
not the trained ones, because speed depends on the architecture and the code, not on the weights' values;
the throughput cell is mean ± spread over the timed rounds.

Verdict rule: the claim is about *all-MLP* models (no convolution beyond the patch stem,
``models.is_all_mlp``); the hybrid MLP families (ConvMLP, AS-MLP, CycleMLP, S2-MLPv2) are placed on the plot
but not judged. A baseline (ViT, ResNet, BiT) *clearly dominates* an all-MLP model when its throughput is at
least as high and its accuracy clearly above (non-overlapping mean ± spread). **holds** if some all-MLP model
is on the (mean) accuracy-throughput Pareto front of the all-MLP models and baselines and clearly dominated by
no baseline; **does not hold** if every all-MLP model is clearly dominated by a baseline; **inconclusive**
otherwise.

Small budget estimate (2 CPU threads): 15 models x 2 seeds x 150 steps of 64 images at ~20-300 img/s measured
under a load of ~6 (DynaMixer and the ResNets slowest), i.e. ~3x that idle: about 30 min with evaluation and
timing, the longest study. (Measured when the small variants cost 3-4x today's MACs: an upper bound.) Keep the
machine quiet for the timing phase at the end (its log line says when it starts).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..bench.flops import model_cost
from ..bench.throughput import alternate, inference_step, synchronizer
from ..factory import create_model
from ..models import BASELINE_FAMILIES, get_entry, is_all_mlp, list_models
from . import _plot
from ._data import INPUT_SIZE, eval_set, train_set
from ._runner import Arm, aggregate
from ._study import FAILS, HOLDS, INCONCLUSIVE, Context, Study, Verdict, rule_of, run_arms

TIMING = {"tiny": (1, 0)}  # (timed rounds, warm-up rounds) per budget
DEFAULT_TIMING = (11, 3)


def arms() -> list[Arm]:
    return [Arm(name, lambda name=name: create_model(name)) for name in list_models("*_s*_28")]


def execute(ctx: Context) -> list[dict]:
    every = arms()

    def cost(model):
        return {"gmacs": model_cost(model, (1, *INPUT_SIZE)).macs / 1e9}

    runs = run_arms(ctx, every, train_set(ctx.data), eval_set(ctx.data, "val", ctx.budget.eval_images), cost)
    runs += time_side_by_side(ctx, every)
    families = {arm.label: get_entry(arm.label).family for arm in every}
    all_mlp = {name: is_all_mlp(create_model(name, device="meta"), family) for name, family in families.items()}
    for run in runs:
        run["family"], run["all_mlp"] = families[run["arm"]], all_mlp[run["arm"]]
    return runs


def time_side_by_side(ctx: Context, models: list[Arm]) -> list[dict]:
    """One row per (arm, timed round): images/s of the arm's inference-ready model on the CPU (the claim is
    about CPU throughput, even when the runs trained on a GPU), every arm timed in turn within each round."""
    rounds, warmup = TIMING.get(ctx.budget.name, DEFAULT_TIMING)
    x = torch.randn(ctx.budget.batch_size, *INPUT_SIZE)
    ctx.log(f"timing {len(models)} models side by side: {warmup} warm-up + {rounds} rounds of batch {x.shape[0]}")
    steps = {arm.label: inference_step(arm.build().for_inference(), x) for arm in models}
    seconds = alternate(steps, rounds, warmup, synchronizer(x.device))
    return [
        {"arm": label, "round": i, "img_per_s": x.shape[0] / s}
        for label, stats in seconds.items()
        for i, s in enumerate(stats.samples)
    ]


def summarise(runs: list[dict]) -> list[dict]:
    """One row per arm: accuracy and MACs over the seeds, throughput over the timed rounds."""
    trained = aggregate([r for r in runs if "test_top1" in r], ("arm", "family", "all_mlp"), ("test_top1", "gmacs"))
    timed = aggregate([r for r in runs if "img_per_s" in r], ("arm",), ("img_per_s",))
    speed = {row["arm"]: row["img_per_s"] for row in timed}
    return [{**row, "img_per_s": speed[row["arm"]]} for row in trained]


def pareto_front(table: list[dict]) -> list[str]:
    """The models no other model beats in both mean accuracy and mean throughput."""

    def key(row):
        return row["test_top1"].mean, row["img_per_s"].mean

    def beats(a, b):
        return key(a) != key(b) and all(x >= y for x, y in zip(key(a), key(b), strict=True))

    return [r["arm"] for r in table if not any(beats(o, r) for o in table)]


def kind(row: dict) -> str:
    """What the verdict makes of a model: a baseline, an all-MLP model (judged) or a hybrid (not judged)."""
    if row["family"] in BASELINE_FAMILIES:
        return "baseline"
    return "all-MLP" if row["all_mlp"] else "hybrid MLP"


def judged_front(table: list[dict]) -> list[str]:
    """The Pareto front of the models the claim compares: all-MLP models and baselines."""
    return pareto_front([r for r in table if kind(r) != "hybrid MLP"])


def verdict(table: list[dict]) -> Verdict:
    baselines = [r for r in table if kind(r) == "baseline"]
    mlps = [r for r in table if kind(r) == "all-MLP"]
    hybrids = [r["arm"] for r in table if kind(r) == "hybrid MLP"]
    front = judged_front(table)

    def dominated(m):
        return any(b["img_per_s"].mean >= m["img_per_s"].mean and b["test_top1"].clearly_above(m["test_top1"])
                   for b in baselines)  # fmt: skip

    free = [m["arm"] for m in mlps if not dominated(m)]
    reason = (
        f"Pareto front of the all-MLP models and baselines: {', '.join(front)}; all-MLP models not clearly "
        f"dominated by a baseline: {', '.join(free) or 'none'}; hybrids with convolutions, not judged: "
        f"{', '.join(hybrids) or 'none'}"
    )
    if any(name in front for name in free):
        return Verdict(HOLDS, reason)
    if not free:
        return Verdict(FAILS, reason)
    return Verdict(INCONCLUSIVE, reason)


def plot(table: list[dict], path: Path) -> None:
    points = {r["arm"]: (r["img_per_s"].mean, r["test_top1"]) for r in table}
    _plot.scatter(path, points, "inference throughput (images/s, CPU, log)", "test top-1 (%)",
                  "Accuracy against throughput, small variants", front=judged_front(table),
                  groups={r["arm"]: kind(r) for r in table})  # fmt: skip


STUDY = Study(
    name="tradeoff",
    claim="All-MLP models reach accuracy-throughput trade-offs competitive with ViT and CNN baselines of similar size.",
    source="MLP-Mixer Fig. 3, ResMLP Table 2, ConvMLP Table 1 (speed-accuracy comparisons)",
    rule=rule_of(__doc__),
    setup="Every family's 28x28 small variant trained with one budget, MACs counted with bench.flops; then, after "
    "all training, every model timed side by side (bench.throughput.alternate: float32, batch = the budget's, every "
    "model once per round in turn, each fused and packed as `visionmlp benchmark --fuse --pack` runs it); the "
    "throughput cell is mean ± spread over the timed rounds.",
    arms=arms,
    execute=execute,
    summarise=summarise,
    plain_columns=("img_per_s", "gmacs"),
    verdict=verdict,
    plot=plot,
    matched=False,
    why_unmatched="not matched on purpose: each family's own small variant is placed on the trade-off",
)

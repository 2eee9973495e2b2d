"""data-scale (MLP-Mixer paper, Sec. 3.3 / Fig. 2): with little data CNN > ViT > Mixer, and the gap closes as
the training set grows.

Setup: a BiT-style ResNet-v2 (GroupNorm + weight standardisation), a ViT and a Mixer of ~210 k parameters
(matched within 10%), each trained on nested Fashion-MNIST subsets of 1k, 3k, 10k, 30k and 60k images for
the same number of steps (so the small subsets are seen for many epochs, the large ones for few: compute is
held fixed, data varies), scored on the test set and on up to ``train_eval_images`` of its own training
images (the train/test gap).

Verdict rule: **holds** if at the smallest size the means order CNN > ViT > Mixer with both adjacent pairs
clearly apart (non-overlapping mean ± spread) *and* the CNN-Mixer gap at the largest size is clearly smaller
than at the smallest (the difference exceeds the sum of both gaps' spreads); **does not hold** if at the
smallest size the Mixer is clearly above the CNN, or the gap clearly grows; **inconclusive** otherwise.

Small budget, estimated from timed training steps (2 CPU threads, machine shared with other runs: load ~6):
3 models x 5 sizes x 2 seeds x 150 steps of 64 images at ~60 (Mixer), ~35 (ViT), ~40 (BiT) img/s loaded,
about 25 min of training plus ~2 min of evaluation on an idle machine (the loaded timings were scaled by the
measured load factor ~3; expect ~75 min under the same load as the timing).
"""

from __future__ import annotations

from pathlib import Path

from ..factory import create_model
from . import _plot
from ._data import eval_set, train_set
from ._runner import Arm, accuracy, aggregate, lookup
from ._study import FAILS, HOLDS, INCONCLUSIVE, Context, Study, Verdict, rule_of, run_arms

SIZES = {"tiny": (64, 128)}  # the tiny budget runs on the 1024-image synthetic set
PAPER_SIZES = (1_000, 3_000, 10_000, 30_000, 60_000)
CNN, VIT, MIXER = "bit", "vit", "mixer"


def arms() -> list[Arm]:
    return [
        Arm(
            CNN,
            lambda: create_model(
                "bit_s2_28", layers=(1, 1, 1, 1), widths=(64, 128, 192, 256), stem_width=16, num_groups=8
            ),
        ),  # fmt: skip
        Arm(VIT, lambda: create_model("vit_s4_28", embed_dim=64, depth=4, num_heads=2)),
        Arm(
            MIXER,
            lambda: create_model("mixer_s4_28", embed_dim=64, num_blocks=6, tokens_mlp_dim=32, channels_mlp_dim=256),
        ),  # fmt: skip
    ]


def execute(ctx: Context) -> list[dict]:
    budget = ctx.budget
    test = eval_set(ctx.data, "val", budget.eval_images)
    runs = []
    for size in SIZES.get(budget.name, PAPER_SIZES):
        ctx.log(f"{size} training images")
        seen = eval_set(ctx.data, "train", min(size, budget.train_eval_images))  # a subset of the training subset

        def score(model, seen=seen):
            return {"train_top1": accuracy(model, seen, budget)}

        runs += run_arms(ctx, arms(), train_set(ctx.data, size), test, score, images=size)
    for run in runs:
        run["gap"] = run["train_top1"] - run["test_top1"]
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    return aggregate(runs, ("arm", "images"), ("test_top1", "train_top1", "gap"))


def verdict(table: list[dict]) -> Verdict:
    sizes = sorted({row["images"] for row in table})
    small, large = sizes[0], sizes[-1]
    cnn, vit, mixer = (lookup(table, "test_top1", arm=a, images=small) for a in (CNN, VIT, MIXER))
    gap_small = _gap(table, small)
    gap_large = _gap(table, large)
    shrink = gap_small[0] - gap_large[0]
    order = f"at {small} images CNN {cnn}, ViT {vit}, Mixer {mixer}"
    trend = f"CNN-Mixer gap {100 * gap_small[0]:.1f} -> {100 * gap_large[0]:.1f} points from {small} to {large}"
    if cnn.clearly_above(vit) and vit.clearly_above(mixer) and shrink > gap_small[1] + gap_large[1]:
        return Verdict(HOLDS, f"{order}; {trend}")
    if mixer.clearly_above(cnn) or -shrink > gap_small[1] + gap_large[1]:
        return Verdict(FAILS, f"{order}; {trend}")
    return Verdict(INCONCLUSIVE, f"{order}; {trend} (not clearly apart)")


def _gap(table: list[dict], size: int) -> tuple[float, float]:
    """CNN minus Mixer test accuracy at ``size``, with the sum of their spreads."""
    cnn, mixer = lookup(table, "test_top1", arm=CNN, images=size), lookup(table, "test_top1", arm=MIXER, images=size)
    return cnn.mean - mixer.mean, cnn.spread + mixer.spread


def plot(table: list[dict], path: Path) -> None:
    series = {}
    for arm in (CNN, VIT, MIXER):
        rows = [r for r in table if r["arm"] == arm]
        series[arm] = ([r["images"] for r in rows], [r["test_top1"] for r in rows])
    _plot.curves(path, series, "training images", "test top-1 (%)", "Accuracy against training-set size",
                 logx=True)  # fmt: skip


STUDY = Study(
    name="data-scale",
    claim="With little data CNN > ViT > Mixer; as the training set grows the gap closes.",
    source="MLP-Mixer (Tolstikhin et al. 2021), Sec. 3.3",
    rule=rule_of(__doc__),
    setup="BiT-style ResNet-v2, ViT (patch 4) and Mixer (patch 4), trained for the same steps on nested "
    "Fashion-MNIST subsets of 1k-60k images; test accuracy and the train/test gap per size.",
    arms=arms,
    execute=execute,
    summarise=summarise,
    verdict=verdict,
    plot=plot,
)

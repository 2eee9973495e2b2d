"""permutation (MLP-Mixer paper, Sec. 3.5 / Fig. 4): a Mixer is unaffected by a fixed permutation of the
patches and of the pixels within each patch, while a CNN, whose convolutions assume that neighbouring
pixels belong together, degrades.

Setup: a Mixer (patch 4) and a ResNet of ~220 k parameters (matched within 10%), each trained and tested on
the original images and on images under one fixed random permutation of the 4x4 patches and of the 16
pixels within each patch (applied after augmentation, to training and test images alike). For the Mixer the
permuted task is the original one with permuted weights, so only seeds should move it.

Verdict rule: **holds** if the Mixer's original and permuted accuracies overlap (mean ± spread) or differ by
less than 1 point, *and* the CNN's original accuracy is clearly above its permuted one (non-overlapping);
**does not hold** if the Mixer is clearly worse by at least 1 point on permuted data, or the CNN's permuted
mean is not below its original mean; **inconclusive** otherwise.

Small budget estimate (2 CPU threads): 2 models x 2 conditions x 2 seeds x 150 steps of 64 images, at ~200
(Mixer) and ~150 (ResNet) img/s on an idle machine: about 5 min with evaluation.
"""

from __future__ import annotations

from pathlib import Path

from ..factory import create_model
from . import _plot
from ._data import INPUT_SIZE, PatchPermutation, eval_set, to_tensor, train_set
from ._runner import Arm, aggregate, lookup
from ._study import FAILS, HOLDS, INCONCLUSIVE, Context, Study, Verdict, rule_of, run_arms

PATCH = 4  # the Mixer's patch size: the permutation moves whole tokens and shuffles within them
MIXER, CNN = "mixer", "resnet"
CONDITIONS = ("original", "permuted")


def arms() -> list[Arm]:
    return [
        Arm(
            MIXER,
            lambda: create_model(
                "mixer_s4_28", embed_dim=64, num_blocks=6, tokens_mlp_dim=32, channels_mlp_dim=256, patch_size=PATCH
            ),
        ),  # fmt: skip
        Arm(CNN, lambda: create_model("resnet_s2_28", layers=(1, 1, 1, 1), widths=(16, 32, 64, 96), stem_width=16)),
    ]


def execute(ctx: Context) -> list[dict]:
    permute = PatchPermutation(INPUT_SIZE[1:], PATCH, seed=0)
    runs = []
    for condition in CONDITIONS:
        extra = permute if condition == "permuted" else None
        test = eval_set(ctx.data, "val", ctx.budget.eval_images, [to_tensor(), *([extra] if extra else [])])
        ctx.log(f"{condition} images")
        runs += run_arms(ctx, arms(), train_set(ctx.data, extra=extra), test, data=condition)
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    return aggregate(runs, ("arm", "data"), ("test_top1",))


def verdict(table: list[dict]) -> Verdict:
    (m_orig, m_perm), (c_orig, c_perm) = (
        [lookup(table, "test_top1", arm=arm, data=c) for c in CONDITIONS] for arm in (MIXER, CNN)
    )
    drop_m, drop_c = m_orig.mean - m_perm.mean, c_orig.mean - c_perm.mean
    reason = (f"Mixer {m_orig} -> {m_perm} (drop {100 * drop_m:.1f} points), CNN {c_orig} -> {c_perm} "
              f"(drop {100 * drop_c:.1f} points)")  # fmt: skip
    mixer_unaffected = m_orig.overlaps(m_perm) or abs(drop_m) < 0.01
    if mixer_unaffected and c_orig.clearly_above(c_perm):
        return Verdict(HOLDS, reason)
    if (m_orig.clearly_above(m_perm) and drop_m >= 0.01) or drop_c <= 0:
        return Verdict(FAILS, reason)
    return Verdict(INCONCLUSIVE, reason)


def plot(table: list[dict], path: Path) -> None:
    series = {c: [lookup(table, "test_top1", arm=a, data=c) for a in (MIXER, CNN)] for c in CONDITIONS}
    _plot.bars(path, [MIXER, CNN], series, "test top-1 (%)", "Original vs. patch+pixel permuted images")


STUDY = Study(
    name="permutation",
    claim="Mixer is unaffected by a fixed permutation of patches and of pixels within patches; a CNN degrades.",
    source="MLP-Mixer (Tolstikhin et al. 2021), Sec. 3.5",
    rule=rule_of(__doc__),
    setup="Mixer (patch 4) and a basic-block ResNet trained and tested on original and on permuted Fashion-MNIST "
    "(one fixed permutation of the 4x4 patches and of the pixels inside each patch).",
    arms=arms,
    execute=execute,
    summarise=summarise,
    verdict=verdict,
    plot=plot,
)

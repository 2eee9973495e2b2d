"""resolution (docs/any-resolution.md): a model trained at 28x28 can be evaluated at other sizes, natively
(ConvMLP: no weight is tied to the token grid) or through ``dynamic_img_size=True`` weight resampling (the
fixed-grid families), at least as well as by the obvious baseline of resizing the input back to 28x28.

Setup: two ConvMLPs, Mixer, ResMLP and gMLP of ~220 k parameters (the ConvMLPs' and gMLP's channel ratios
fitted to the Mixer's, within 10%), trained at 28x28 (the fixed-grid ones built with ``dynamic_img_size=True``,
which at the native size is the plain model). The test images are resized (bicubic, whole image kept) to
24x24, 32x32, 40x40 and the non-square 24x40, then fed either as they are (``native``) or resized back to
28x28 (``resize``); 28x28 itself is the reference.

Why two ConvMLPs: the family's three-stage layout has a total stride of 32, so at 28x28 its last two stages
run on 2x2 and 1x1 maps. No position there has a full 3x3 neighbourhood during training, and the block's
depth-wise convolution has no skip around it; at 40x40 those maps grow to 3x3 and 2x2 and positions appear
whose sums the later layers never saw (the first small-budget run fell to 16% there, near chance).
``convmlp-1stage`` keeps one Conv-MLP stage at stride 8, a 4x4 map at 28x28, to test that explanation
against the same protocol.

Verdict rule: per model and size, ``native`` is *worse* when ``resize`` is clearly above it (non-overlapping
mean ± spread). **holds** if no cell is worse; **does not hold** if more than half of the cells are worse;
**inconclusive** otherwise.

Small budget estimate (2 CPU threads): 5 models x 2 seeds x 150 steps of 64 images at ~200-900 img/s on an
idle machine, plus 9 evaluations of the test subset per run: about 6 min.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..factory import create_model
from ..models.convmlp import ConvMLP
from . import _plot
from ._data import INPUT_SIZE, Resize, eval_set, to_tensor, train_set
from ._runner import Arm, accuracy, aggregate, fit_to, lookup
from ._study import FAILS, HOLDS, INCONCLUSIVE, Context, Study, Verdict, rule_of, run_arms

TRAIN_SIZE = tuple(INPUT_SIZE[1:])
SIZES = ((24, 24), (32, 32), (40, 40), (24, 40))
MODES = ("native", "resize")
RATIOS = tuple(1 + 0.25 * i for i in range(17))  # 1 .. 5


def _mixer():
    return create_model("mixer_s4_28", embed_dim=64, num_blocks=6, tokens_mlp_dim=32, channels_mlp_dim=256,
                        dynamic_img_size=True)  # fmt: skip


def _resmlp():
    return create_model("resmlp_s4_28", embed_dim=64, depth=6, dynamic_img_size=True)


def _gmlp(ratio: float):
    return create_model("gmlp_s4_28", embed_dim=64, num_blocks=6, mlp_ratio=ratio, dynamic_img_size=True)


def _convmlp(ratio: float) -> ConvMLP:
    return create_model("convmlp_s4_28", blocks=(1, 1, 1), dims=(32, 64, 128), mlp_ratios=(ratio,) * 3, channels=16,
                        n_conv_blocks=1)  # fmt: skip


def _convmlp_one_stage(ratio: float) -> ConvMLP:
    return create_model("convmlp_s4_28", blocks=(3,), dims=(64,), mlp_ratios=(ratio,), channels=16, n_conv_blocks=1)


def arms() -> list[Arm]:
    target = Arm("mixer", _mixer).params()
    conv, gmlp = fit_to(target, _convmlp, RATIOS), fit_to(target, _gmlp, RATIOS)
    conv1 = fit_to(target, _convmlp_one_stage, RATIOS)
    return [
        Arm("convmlp", lambda: _convmlp(conv)),
        Arm("convmlp-1stage", lambda: _convmlp_one_stage(conv1)),
        Arm("mixer", _mixer),
        Arm("resmlp", _resmlp),
        Arm("gmlp", lambda: _gmlp(gmlp)),
    ]


def _name(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def execute(ctx: Context) -> list[dict]:
    n = ctx.budget.eval_images
    views = {
        (_name(s), mode): eval_set(
            ctx.data, "val", n, [Resize(s), *([Resize(TRAIN_SIZE)] if mode == "resize" else []), to_tensor()]
        )  # fmt: skip
        for s in SIZES
        for mode in MODES
    }

    def score(model):  # keyed "size mode": a run is saved as JSON (see _journal)
        return {f"{size} {mode}": accuracy(model, view, ctx.budget) for (size, mode), view in views.items()}

    runs = []
    for run in run_arms(ctx, arms(), train_set(ctx.data), eval_set(ctx.data, "val", n), score):
        base = {"arm": run["arm"], "seed": run["seed"]}
        runs.append({**base, "size": _name(TRAIN_SIZE), "mode": "native", "top1": run["test_top1"]})
        runs += [{**base, "size": size, "mode": mode, "top1": run[f"{size} {mode}"]} for size, mode in views]
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    return aggregate(runs, ("arm", "size", "mode"), ("top1",))


def verdict(table: list[dict]) -> Verdict:
    cells = [(arm, _name(s)) for arm in dict.fromkeys(r["arm"] for r in table) for s in SIZES]
    worse = []
    for arm, size in cells:
        native, resized = (lookup(table, "top1", arm=arm, size=size, mode=m) for m in MODES)
        if resized.clearly_above(native):
            worse.append(f"{arm} at {size} ({native} native vs {resized} resized)")
    reason = f"native/resampled clearly worse than resizing in {len(worse)} of {len(cells)} cells"
    reason += ": " + "; ".join(worse) if worse else ""
    if not worse:
        return Verdict(HOLDS, reason)
    return Verdict(FAILS if len(worse) > len(cells) / 2 else INCONCLUSIVE, reason)


def plot(table: list[dict], path: Path) -> None:
    def side(size: str) -> float:
        h, w = map(int, size.split("x"))
        return math.sqrt(h * w)

    series = {}
    for arm in dict.fromkeys(r["arm"] for r in table):
        for mode in MODES:
            rows = sorted((r for r in table if r["arm"] == arm and (r["mode"] == mode or r["size"] == "28x28")),
                          key=lambda r: side(r["size"]))  # fmt: skip
            series[f"{arm} {mode}"] = ([side(r["size"]) for r in rows], [r["top1"] for r in rows])
    _plot.curves(path, series, "test image side sqrt(H*W) (24x40 at 31)", "test top-1 (%)",
                 "Trained at 28x28, evaluated at other sizes")  # fmt: skip


STUDY = Study(
    name="resolution",
    claim="Evaluated at other resolutions, native any-size (ConvMLP) and dynamic_img_size weight resampling "
    "(fixed-grid families) do at least as well as resizing the input back to the training size.",
    source="ConvMLP (Li et al. 2021) and docs/any-resolution.md",
    rule=rule_of(__doc__),
    setup="ConvMLP (three stages, as the family; and one stage at stride 8, whose 4x4 map at 28x28 gives its "
    "depth-wise convolutions interior positions to train on), Mixer, ResMLP and gMLP trained at 28x28; test "
    "images resized to 24, 32, 40 and 24x40, fed natively (weights resampled) or resized back to 28x28.",
    arms=arms,
    execute=execute,
    summarise=summarise,
    verdict=verdict,
    plot=plot,
)

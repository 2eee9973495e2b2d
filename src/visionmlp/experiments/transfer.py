"""transfer (ConvMLP paper, Sec. 4.2-4.3, Tables 3-4): a hierarchical conv-MLP backbone transfers to dense
prediction better than a ResNet of its size, and a fixed-grid MLP only runs there with resampled weights.

Setup: three backbones of ~240 k parameters (matched within 10%): ConvMLP, a ResNet and a Mixer built with
``dynamic_img_size`` (its token mixing resampled from the 7x7 classification grid to the canvas's). Each is first
trained to classify 28x28 Fashion-MNIST images (the study recipe), then its classifier is dropped, a Semantic FPN
head is put on its pyramid, and the whole is fine-tuned for the same steps to segment 96x96 mosaics of garments
(``data/mosaic.py``: background + 10 classes; the canvases' garments come from the study's training or test
images) and scored by mIoU on held-out canvases. The arms are matched in parameters, as the paper's comparisons
are, not in compute: the small ResNet's stride-1 stem keeps its finest level at the canvas's full resolution.

Verdict rule: **holds** if ConvMLP's mIoU is clearly above the ResNet's (non-overlapping mean ± spread); **does
not hold** if the ResNet's is clearly above or ConvMLP's mean is not above it; **inconclusive** otherwise (ConvMLP
above in mean, spreads overlapping). The Mixer row shows what resampling a fixed-grid MLP gives; it is reported,
not judged.

Small budget estimate (2 CPU threads): 3 backbones x 2 seeds x (150 classification steps of 64 images + 150
segmentation steps of 64 canvases of 96x96, ~12x the pixels) plus scoring 2000 canvases, about 30 min on an idle
machine.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..data.mosaic import FashionMnistMosaic
from ..dense import DenseModel
from ..factory import create_model
from ..train import TrainConfig, Trainer
from ..train.checkpoint import seed_everything
from . import _plot
from ._data import eval_set, train_set
from ._runner import Arm, aggregate, lookup, train_arm
from ._study import FAILS, HOLDS, INCONCLUSIVE, Context, Study, Verdict, rule_of

CONVMLP, RESNET, MIXER = "convmlp", "resnet", "mixer"
CANVAS = (96, 96)
HEAD = dict(fpn_channels=64, channels=32)  # one Semantic FPN for every backbone


def arms() -> list[Arm]:
    return [
        Arm(CONVMLP, lambda: create_model("convmlp_s4_28", blocks=(1, 1, 1), dims=(32, 64, 104), channels=24)),
        Arm(RESNET, lambda: create_model("resnet_s2_28", layers=(1, 1, 1, 1), widths=(16, 32, 64, 104))),
        Arm(
            MIXER,
            lambda: create_model(
                "mixer_s4_28",
                embed_dim=96,
                num_blocks=3,
                tokens_mlp_dim=48,
                channels_mlp_dim=384,
                dynamic_img_size=True,
            ),
        ),  # fmt: skip
    ]


def execute(ctx: Context) -> list[dict]:
    budget = ctx.budget
    classify_train, classify_test = train_set(ctx.data), eval_set(ctx.data, "val", budget.eval_images)
    canvases = budget.steps * budget.batch_size
    segment_train = _mosaics(ctx.data, "train", canvases)
    segment_test = _mosaics(ctx.data, "test", budget.eval_images or 2000)
    runs = []
    for arm in arms():
        for seed in ctx.seeds:
            key = {"arm": arm.label, "seed": seed}
            row = ctx.journal.get(key)
            if row is None:
                start = time.perf_counter()
                row = {**key, **_transfer(arm, classify_train, classify_test, segment_train, segment_test, ctx, seed)}
                ctx.journal.add(key, row, time.perf_counter() - start)
            ctx.log(f"  {arm.label} seed {seed}: classification top-1 {100 * row['test_top1']:.2f}%, "
                    f"segmentation mIoU {100 * row['miou']:.2f}%")  # fmt: skip
            runs.append(row)
    return runs


def _mosaics(spec: str, split: str, count: int) -> FashionMnistMosaic:
    """Canvases whose garments come from the study data's ``split`` (training or test images)."""
    source = eval_set(spec, "train" if split == "train" else "val")
    return FashionMnistMosaic(split, size=CANVAS, count=count, source=source)


def _transfer(arm: Arm, classify_train, classify_test, segment_train, segment_test, ctx: Context, seed: int) -> dict:
    """Classify first, then segment with the classification weights: both scores and the backbone's size."""
    budget = ctx.budget
    trained = train_arm(arm, classify_train, classify_test, budget, seed)
    backbone = trained.model.cpu()
    backbone.set_features_only()
    params = sum(p.numel() for p in backbone.parameters())
    seed_everything(seed)
    model = DenseModel("segment", backbone, len(segment_train.classes), **HEAD)
    cfg = TrainConfig(task="segment", data="fashion-mnist-mosaic", epochs=1, batch_size=budget.batch_size,
                      lr=budget.lr, warmup_epochs=0.1, seed=seed, workers=budget.workers, progress=False,
                      device="auto")  # fmt: skip
    start = time.perf_counter()
    scores = Trainer(cfg, model, segment_train, segment_test, log=lambda _m: None).fit().last_eval
    return {"test_top1": trained.test_top1, "miou": scores["miou"], "backbone_params": params,
            "train_seconds": round(trained.seconds + time.perf_counter() - start, 2)}  # fmt: skip


def summarise(runs: list[dict]) -> list[dict]:
    return aggregate(runs, ("arm",), ("miou", "test_top1"))


def verdict(table: list[dict]) -> Verdict:
    convmlp, resnet = lookup(table, "miou", arm=CONVMLP), lookup(table, "miou", arm=RESNET)
    mixer = lookup(table, "miou", arm=MIXER)
    said = f"mIoU ConvMLP {convmlp}, ResNet {resnet} (Mixer, resampled, {mixer})"
    if convmlp.clearly_above(resnet):
        return Verdict(HOLDS, said)
    if resnet.clearly_above(convmlp) or convmlp.mean <= resnet.mean:
        return Verdict(FAILS, said)
    return Verdict(INCONCLUSIVE, f"{said}: ConvMLP above in mean, not clearly")


def plot(table: list[dict], path: Path) -> None:
    series = {row["arm"]: [row["miou"], row["test_top1"]] for row in table}
    _plot.bars(path, ["segmentation mIoU", "classification top-1"], series, "%",
               "Classification, then segmentation from its weights")  # fmt: skip


STUDY = Study(
    name="transfer",
    claim="A hierarchical conv-MLP backbone transfers to dense prediction better than a ResNet of its size.",
    source="ConvMLP (Li et al. 2021), Sec. 4.2-4.3, Tables 3-4 (Semantic FPN on ADE20K, RetinaNet on COCO)",
    rule=rule_of(__doc__),
    setup="ConvMLP, ResNet and a resampled Mixer of ~240 k parameters, trained to classify Fashion-MNIST, then "
    "fine-tuned with a Semantic FPN head to segment 96x96 garment mosaics; mIoU on held-out canvases. Matched in "
    "parameters, not in compute: the small ResNet's stem keeps the full resolution (stride 1), so its head works on "
    "a 96x96 finest level where ConvMLP's and the Mixer's work on 24x24 (a ResNet run took about 5x as long: "
    "`train_seconds` in transfer.json).",
    arms=arms,
    execute=execute,
    summarise=summarise,
    verdict=verdict,
    plot=plot,
)

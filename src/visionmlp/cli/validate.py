"""``visionmlp validate``: score a trained checkpoint: top-1, top-5, loss, per-class accuracy and the
confusion matrix (``confusion.png`` when matplotlib imports, and ``validation.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from ..data import build_dataset, build_eval_transform, build_loader, collate_dense
from ..data.builder import SPLITS
from ..dense import DenseModel
from ..hub import BUNDLED_DIR
from ..train import evaluate
from ..train.distributed import DistContext, resolve_device
from ..train.evaluate import EvalResult
from ..utils.atomic import atomic_path, atomic_write_text
from . import count, positive_int
from ._trained import Trained, load_trained


def register(sub) -> None:
    p = sub.add_parser("validate", help="evaluate a trained checkpoint (top-1/5, per-class, confusion matrix)")
    p.add_argument("checkpoint", help="a run folder (its last.pth), a .pth written by `visionmlp train`, or a "
                                       "save_pretrained folder")  # fmt: skip
    p.add_argument("--data", help="data to score on (default: the run's; needed for a save_pretrained folder)")
    p.add_argument(
        "--split",
        choices=SPLITS,
        help="split (default: the one the weights were scored on, else val); test is the test set of data that "
        "validates elsewhere (fashion-mnist:holdout)",
    )
    p.add_argument("--limit", type=positive_int, help="score a fixed random subset of this many images")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--workers", type=count, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--ema", action="store_true", help="score the EMA weights")
    p.add_argument(
        "--output",
        help="folder for validation.json and confusion.png (default: the checkpoint's; the working folder for a "
        "weight shipped with the package)",
    )
    p.set_defaults(func=_validate)


def _validate(args) -> int:
    trained = load_trained(args.checkpoint, use_ema=args.ema)
    spec = args.data or trained.config.get("data")
    split = args.split or trained.config.get("eval_split", "val")
    if isinstance(trained.model, DenseModel):
        return _validate_dense(args, trained, spec, split)
    result, classes = score(trained, spec, split, args.batch_size, args.workers, args.device, args.limit)
    _report(result, classes)
    folder = _output_folder(args, trained)
    summary = {"checkpoint": str(trained.path), "data": spec, "split": split, "images": result.count,
               "ema": args.ema, "top1": result.top1, "top5": result.top5, "loss": result.loss,
               "per_class": dict(zip(classes, result.per_class, strict=True)),
               "confusion": result.confusion.tolist()}  # fmt: skip
    atomic_write_text(folder / "validation.json", json.dumps(summary, indent=2) + "\n")
    png = _plot_confusion(result, classes, folder / "confusion.png")
    print(f"wrote {folder / 'validation.json'}" + (f" and {png}" if png else " (confusion.png needs matplotlib)"))
    return 0


def _output_folder(args, trained: Trained) -> Path:
    """``--output``, else the checkpoint's folder: a run's results beside it. A weight file shipped with the package
    (``NAME.TAG``) is never written beside, which would change the installed package: its results go to the
    working folder."""
    if args.output:
        return Path(args.output)
    return Path.cwd() if trained.path.resolve().is_relative_to(BUNDLED_DIR.resolve()) else trained.path.parent


def _validate_dense(args, trained: Trained, spec: str | None, split: str) -> int:
    """A segmentation or detection run: its task's scores (mIoU and per-class IoU, or COCO mAP)."""
    if spec is None:
        raise ValueError(f"{trained.path} does not name the data it was trained on; pass --data")
    dataset = build_dataset(spec, split).limit(args.limit)
    loader = build_loader(dataset, args.batch_size, train=False, workers=args.workers, collate_fn=collate_dense)
    model = trained.model.to(resolve_device(args.device))
    scores = model.score(loader)
    headline = ", ".join(f"{k} {100 * v:.2f}%" for k, v in scores.items() if isinstance(v, float))
    print(f"{len(dataset):,} images: {headline}")
    if "iou" in scores:
        names = trained.classes or [f"class_{i}" for i in range(len(scores["iou"]))]
        width = max(len(n) for n in names)
        for name, iou in zip(names, scores["iou"], strict=True):
            print(f"  {name:<{width}}  " + (f"{100 * iou:6.2f}%" if iou is not None else "     -"))
    folder = _output_folder(args, trained)
    summary = {"checkpoint": str(trained.path), "data": spec, "split": split, "images": len(dataset),
               "task": model.task, "ema": args.ema, **scores}  # fmt: skip
    atomic_write_text(folder / "validation.json", json.dumps(summary, indent=2) + "\n")
    print(f"wrote {folder / 'validation.json'}")
    return 0


def score(
    trained: Trained, spec: str | None, split: str, batch_size: int = 256, workers: int = 0, device: str = "auto",
    limit: int | None = None,
) -> tuple[EvalResult, tuple[str, ...]]:  # fmt: skip
    """Evaluate a trained model on ``split`` of ``spec`` through its own eval transform, on its fastest
    inference path (``for_inference`` changes the model in place); returns the result and the class names."""
    config, inp = trained.config, trained.input
    if spec is None:
        raise ValueError(f"{trained.path} does not name the data it was trained on; pass --data")
    # the run's own hold-out where the data has no validation split (defaults: runs saved before it existed)
    dataset = build_dataset(spec, split, config.get("val_split", 0.1), seed=config.get("seed", 0)).limit(limit)
    if trained.classes is not None and list(dataset.classes) != trained.classes:
        raise ValueError(f"{spec} has classes {list(dataset.classes)[:5]}..., the model was trained on "
                         f"{trained.classes[:5]}...; pass the data it was trained on")  # fmt: skip
    if len(dataset.classes) != trained.model.num_classes:
        raise ValueError(f"{spec} has {len(dataset.classes)} classes, the model {trained.model.num_classes}; pass the "
                         "data it was trained on")  # fmt: skip
    dataset.transform = build_eval_transform(inp["input_size"], inp["mean"], inp["std"], crop_pct=inp["crop_pct"],
                                             interpolation=inp["interpolation"])  # fmt: skip
    device = resolve_device(device)
    loader = build_loader(dataset, batch_size, train=False, workers=workers)
    model = trained.model.to(device).for_inference()
    return evaluate(model, loader, len(dataset.classes), DistContext(device=device)), dataset.classes


def _report(result: EvalResult, classes) -> None:
    print(f"{result.count:,} images: top-1 {100 * result.top1:.2f}%, top-5 {100 * result.top5:.2f}%, "
          f"loss {result.loss:.4f}")  # fmt: skip
    width = max(len(c) for c in classes)
    for name, acc in zip(classes, result.per_class, strict=True):
        print(f"  {name:<{width}}  {100 * acc:6.2f}%")


def _plot_confusion(result: EvalResult, classes, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.5 + 0.5 * n, 1 + 0.5 * n))
    ax.imshow(result.confusion.numpy(), cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=90)
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"top-1 {100 * result.top1:.2f}% ({result.count:,} images)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path

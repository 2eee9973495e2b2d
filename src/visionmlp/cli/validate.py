"""``visionmlp validate``: score a trained checkpoint: top-1, top-5, loss, per-class accuracy and the
confusion matrix (``confusion.png`` when matplotlib imports, and ``validation.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from ..data import build_dataset, build_eval_transform, build_loader
from ..train import evaluate, load_checkpoint, resolve_checkpoint
from ..train.checkpoint import model_from_checkpoint
from ..train.distributed import DistContext, resolve_device
from ..train.evaluate import EvalResult
from ..utils.atomic import atomic_path, atomic_write_text
from . import count, positive_int


def register(sub) -> None:
    p = sub.add_parser("validate", help="evaluate a trained checkpoint (top-1/5, per-class, confusion matrix)")
    p.add_argument("checkpoint", help="a .pth written by `visionmlp train`, or its run folder (last.pth)")
    p.add_argument("--data", help="data to score on (default: the run's)")
    p.add_argument("--split", default="val", choices=("train", "val"), help="split (default: val)")
    p.add_argument("--limit", type=positive_int, help="score a fixed random subset of this many images")
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--workers", type=count, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--ema", action="store_true", help="score the EMA weights")
    p.add_argument("--output", help="folder for validation.json and confusion.png (default: the checkpoint's)")
    p.set_defaults(func=_validate)


def _validate(args) -> int:
    path = resolve_checkpoint(args.checkpoint)
    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt, use_ema=args.ema)
    meta, config = ckpt["meta"], ckpt.get("config", {})
    spec = args.data or config.get("data")
    if spec is None:
        raise ValueError("the checkpoint does not name its data; pass --data")
    inp = meta["input"]
    dataset = build_dataset(spec, args.split).limit(args.limit)
    if list(dataset.classes) != list(meta["classes"]):
        raise ValueError(f"{spec} has classes {list(dataset.classes)[:5]}..., the model was trained on "
                         f"{meta['classes'][:5]}...; pass the data it was trained on")  # fmt: skip
    dataset.transform = build_eval_transform(inp["input_size"], inp["mean"], inp["std"], crop_pct=inp["crop_pct"],
                                             interpolation=inp["interpolation"])  # fmt: skip
    device = resolve_device(args.device)
    loader = build_loader(dataset, args.batch_size, train=False, workers=args.workers)

    result = evaluate(model.to(device).for_inference(), loader, len(dataset.classes), DistContext(device=device))
    _report(result, dataset.classes)
    folder = Path(args.output) if args.output else path.parent
    summary = {"checkpoint": str(path), "data": spec, "split": args.split, "images": result.count, "ema": args.ema,
               "top1": result.top1, "top5": result.top5, "loss": result.loss,
               "per_class": dict(zip(dataset.classes, result.per_class, strict=True)),
               "confusion": result.confusion.tolist()}  # fmt: skip
    atomic_write_text(folder / "validation.json", json.dumps(summary, indent=2) + "\n")
    png = _plot_confusion(result, dataset.classes, folder / "confusion.png")
    print(f"wrote {folder / 'validation.json'}" + (f" and {png}" if png else " (confusion.png needs matplotlib)"))
    return 0


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

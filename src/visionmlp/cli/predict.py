"""``visionmlp predict IMAGE... --checkpoint PATH`` (or ``--model NAME.TAG``): the top-k classes of each image,
with class names."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .. import hub
from ..data import build_eval_transform
from ..dense import DenseModel
from ..dense.overlay import overlay_detections, overlay_segmentation
from . import UsageError, positive_int
from ._trained import load_trained


def register(sub) -> None:
    p = sub.add_parser("predict", help="classify images with a trained checkpoint")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--checkpoint", help="a run folder, a .pth written by `visionmlp train`, or a save_pretrained folder"
    )
    which.add_argument(
        "--model",
        help="a variant with trained weights, by tag: resnet_s2_28.fashion_mnist (list-models --pretrained)",
    )
    p.add_argument("--topk", type=positive_int, default=5, help="classes to show per image (default: 5)")
    p.add_argument("--ema", action="store_true", help="use the EMA weights")
    p.add_argument("--overlay-dir", default=".",
                   help="segmentation and detection runs: where <image>_<task>.png, the prediction drawn over the "
                   "image, is written (default: here)")  # fmt: skip
    p.set_defaults(func=_predict)


def _predict(args) -> int:
    trained = load_trained(args.checkpoint or _tagged_weights(args.model), use_ema=args.ema)
    if isinstance(trained.model, DenseModel):
        return _predict_dense(args, trained)
    model, inp = trained.model.for_inference(), trained.input
    classes = trained.classes or [f"class_{i}" for i in range(model.num_classes)]
    mode = "L" if inp["input_size"][0] == 1 else "RGB"
    transform = build_eval_transform(inp["input_size"], inp["mean"], inp["std"], crop_pct=inp["crop_pct"],
                                     interpolation=inp["interpolation"])  # fmt: skip
    images = [_open(path, mode) for path in args.images]
    height, width = inp["input_size"][1:]
    for path, img in zip(args.images, images, strict=True):
        if img.size != (width, height):
            print(f"note: {path} is {img.width}x{img.height}; the model sees it resized (shorter side first, aspect "
                  f"kept) and centre-cropped to {width}x{height}", file=sys.stderr)  # fmt: skip
    batch = torch.stack([transform(img) for img in images])
    with torch.no_grad():
        probs = model(batch).softmax(-1)
    top = probs.topk(min(args.topk, len(classes)), dim=-1)
    for path, p, idx in zip(args.images, top.values.tolist(), top.indices.tolist(), strict=True):
        ranked = ", ".join(f"{classes[i]} {100 * v:.1f}%" for v, i in zip(p, idx, strict=True))
        print(f"{path}: {ranked}")
    return 0


def _predict_dense(args, trained) -> int:
    """Each image at its own size through a segmentation or detection run; the picture of the prediction saved."""
    model, classes = trained.model.eval(), trained.classes or []
    mode = "L" if trained.input["input_size"][0] == 1 else "RGB"
    folder = Path(args.overlay_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for path in args.images:
        array = np.asarray(_open(path, mode), dtype=np.float32) / 255
        image = torch.from_numpy(array[None] if mode == "L" else array.transpose(2, 0, 1).copy())
        (prediction,) = model.predict(image[None])
        if model.task == "segment":
            picture = overlay_segmentation(image, prediction, model.num_classes)
            found = sorted({classes[k] for k in prediction.unique().tolist() if k} if classes else set())
            print(f"{path}: {', '.join(found) or 'background only'}")
        else:
            picture = overlay_detections(image, prediction, classes)
            found = zip(prediction.boxes.tolist(), prediction.scores.tolist(), prediction.labels.tolist(), strict=True)
            listed = [f"{classes[c]} {s:.2f} at {[round(v) for v in b]}" for b, s, c in found]
            print(f"{path}: " + ("; ".join(listed[: args.topk]) or "nothing found"))
        out = folder / f"{Path(path).stem}_{model.task}.png"
        picture.save(out)
        print(f"  wrote {out}")
    return 0


def _tagged_weights(name: str):
    variant, dot, tag = name.partition(".")
    if not dot:
        raise UsageError(f"--model takes a variant with its weights' tag, e.g. {name}.fashion_mnist; "
                         "`visionmlp list-models --pretrained` lists them")  # fmt: skip
    return hub.resolve(variant, tag)


def _open(path: str, mode: str) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert(mode)
    except FileNotFoundError:
        raise FileNotFoundError(f"image {path} not found") from None
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"{path} is not a readable image ({err})") from None

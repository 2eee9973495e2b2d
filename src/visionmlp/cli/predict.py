"""``visionmlp predict IMAGE... --checkpoint PATH`` (or ``--model NAME.TAG``): the top-k classes of each image,
with class names."""

from __future__ import annotations

import sys

import torch
from PIL import Image, UnidentifiedImageError

from .. import hub
from ..data import build_eval_transform
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
        help="a variant with trained weights, by tag: gmlp_s4_28.fashion_mnist (`visionmlp list-models --pretrained`)",
    )
    p.add_argument("--topk", type=positive_int, default=5, help="classes to show per image (default: 5)")
    p.add_argument("--ema", action="store_true", help="use the EMA weights")
    p.set_defaults(func=_predict)


def _predict(args) -> int:
    trained = load_trained(args.checkpoint or _tagged_weights(args.model), use_ema=args.ema)
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

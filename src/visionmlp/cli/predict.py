"""``visionmlp predict IMAGE... --checkpoint PATH``: the top-k classes of each image, with class names."""

from __future__ import annotations

import torch
from PIL import Image, UnidentifiedImageError

from ..data import build_eval_transform
from ..train import load_checkpoint
from ..train.checkpoint import model_from_checkpoint
from . import positive_int


def register(sub) -> None:
    p = sub.add_parser("predict", help="classify images with a trained checkpoint")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--checkpoint", required=True, help="a .pth written by `visionmlp train`, or its run folder")
    p.add_argument("--topk", type=positive_int, default=5, help="classes to show per image (default: 5)")
    p.add_argument("--ema", action="store_true", help="use the EMA weights")
    p.set_defaults(func=_predict)


def _predict(args) -> int:
    ckpt = load_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt, use_ema=args.ema).for_inference()
    meta = ckpt["meta"]
    inp, classes = meta["input"], meta["classes"]
    mode = "L" if inp["input_size"][0] == 1 else "RGB"
    transform = build_eval_transform(inp["input_size"], inp["mean"], inp["std"], crop_pct=inp["crop_pct"],
                                     interpolation=inp["interpolation"])  # fmt: skip
    batch = torch.stack([transform(_open(path, mode)) for path in args.images])
    with torch.no_grad():
        probs = model(batch).softmax(-1)
    top = probs.topk(min(args.topk, len(classes)), dim=-1)
    for path, p, idx in zip(args.images, top.values.tolist(), top.indices.tolist(), strict=True):
        ranked = ", ".join(f"{classes[i]} {100 * v:.1f}%" for v, i in zip(p, idx, strict=True))
        print(f"{path}: {ranked}")
    return 0


def _open(path: str, mode: str) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert(mode)
    except FileNotFoundError:
        raise FileNotFoundError(f"image {path} not found") from None
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"{path} is not a readable image ({err})") from None

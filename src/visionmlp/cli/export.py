"""``visionmlp export onnx``: a model (random or from a checkpoint) to ONNX, with the onnxruntime parity.
``visionmlp export release``: a trained run's weights as the float16 file the package ships (``weights/``)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

from ..data.builder import SPLITS
from ..factory import create_model
from ..models._weights import save_release
from . import UsageError, positive_int
from ._trained import load_trained
from .convert import add_official_arg, model_kwargs
from .validate import score


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model: to ONNX (onnx), or a trained run's weights as one float16 file that ships with the "
        "package (release)",
    )
    p.add_argument("target", choices=["onnx", "release"], help="what to export to")
    p.add_argument("--model", help="registered variant, e.g. mixer_s16_224 (onnx; release reads it off the run)")
    p.add_argument("--checkpoint", help="onnx: weights to load (default: random); release: the trained run")
    p.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="model argument, repeatable")
    add_official_arg(p)
    p.add_argument("--ema", action="store_true", help="release: the run's EMA weights, not its raw ones")
    p.add_argument("--split", default="test", choices=SPLITS, help="release: the split its top-1 is measured on")
    p.add_argument("--limit", type=positive_int, help="release: measure its top-1 on a fixed random subset this size")
    p.add_argument("--out", required=True, help="the .onnx or .safetensors file to write")
    p.set_defaults(func=_export)


def _export(args) -> int:
    if args.target == "release":
        return _release(args)
    if args.model is None:
        raise UsageError("export onnx needs --model")
    try:
        from ..export.onnx import export_onnx, onnx_parity
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise UsageError(
            f"ONNX export needs the onnx extra ({err.name} missing): pip install 'visionmlp[onnx]'"
        ) from None
    model = create_model(args.model, pretrained=args.checkpoint or False, **model_kwargs(args)).eval()
    path = export_onnx(model, args.out)
    diff = onnx_parity(model, path)
    print(f"{path}: {args.model}, dynamic batch, onnxruntime parity max abs diff {diff:.2e}")
    return 0


def _release(args) -> int:
    """The run's final weights (EMA with ``--ema``, else raw) rounded to float16, scored as rounded on ``--split``
    of the run's data, written with that top-1, which weights they are, the data and the training settings in the
    header (``models/_weights.py: save_release``)."""
    if args.checkpoint is None:
        raise UsageError("export release needs --checkpoint RUN (a run folder or its .pth)")
    trained = load_trained(args.checkpoint, use_ema=args.ema)
    model = trained.model
    model.load_state_dict({k: v.half().to(v.dtype) if v.is_floating_point() else v
                           for k, v in model.state_dict().items()})  # fmt: skip
    if trained.classes:
        model.pretrained_cfg = replace(model.pretrained_cfg, label_names=tuple(trained.classes))
    spec = trained.config.get("data")
    scored = replace(trained, model=copy.deepcopy(model))
    result, _ = score(scored, spec, args.split, limit=args.limit)
    provenance = {"data": spec, "eval_split": args.split, "top1": f"{100 * result.top1:.2f}",
                  "weights": "ema" if args.ema else "raw",
                  "val_split": str(trained.config.get("val_split", 0.1)), "seed": str(trained.config.get("seed", 0)),
                  "training": json.dumps(trained.config, default=str)}  # fmt: skip
    if args.limit:
        provenance["eval_images"] = str(result.count)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    path = save_release(model, args.out, provenance)
    size = path.stat().st_size / 1e6
    print(f"{path}: {model.model_name}, float16, {size:.2f} MB, top-1 {100 * result.top1:.2f}% on the {args.split} "
          f"split of {spec} ({result.count:,} images)")  # fmt: skip
    return 0

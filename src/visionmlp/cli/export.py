"""``visionmlp export onnx``: a model (random or from a checkpoint) to ONNX, with the onnxruntime parity."""

from __future__ import annotations

from ..factory import create_model
from . import UsageError
from .convert import add_official_arg, model_kwargs


def register(sub) -> None:
    p = sub.add_parser("export", help="export a model to another runtime (onnx)")
    p.add_argument("target", choices=["onnx"], help="what to export to")
    p.add_argument("--model", required=True, help="registered variant, e.g. mixer_s16_224")
    p.add_argument("--checkpoint", help="weights to load: official file or save_pretrained folder (default: random)")
    p.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="model argument, repeatable")
    add_official_arg(p)
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.set_defaults(func=_export)


def _export(args) -> int:
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

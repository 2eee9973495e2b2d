"""``visionmlp convert``: an official checkpoint (or any readable one) to visionmlp's native format."""

from __future__ import annotations

import ast

from ..convert import CONVERTERS
from ..factory import AUTO, load_pretrained
from ..models._weights import NATIVE_FORMAT
from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert a checkpoint to visionmlp's format (model.safetensors + config.json)")
    p.add_argument(
        "--from",
        dest="fmt",
        default=AUTO,
        choices=[AUTO, NATIVE_FORMAT, *sorted(CONVERTERS)],
        help="source format (default: recognised from the file's key names)",
    )
    p.add_argument("--model", required=True, help="registered variant to load into, e.g. mixer_b16_224")
    p.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model argument (Python literal), repeatable, e.g. --arg num_classes=10 --arg img_size=64",
    )
    add_official_arg(p)
    p.add_argument("input", help="checkpoint file (.pth, .pth.tar, .npz, .safetensors) or save_pretrained folder")
    p.add_argument("output", help="folder to write model.safetensors and config.json into")
    p.set_defaults(func=_convert)


def add_official_arg(p) -> None:
    p.add_argument(
        "--official-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an argument of the family's official constructor, by its official name, repeatable, e.g. "
        "--official-arg layers=[2,2,4,2] --official-arg 'norm_layer=partial(nn.LayerNorm, eps=1e-6)'",
    )


def model_kwargs(args) -> dict:
    """``--arg`` and ``--official-arg`` as the keyword arguments of ``create_model``."""
    kwargs = parse_model_args(args.arg)
    if args.official_arg:
        kwargs["official_kwargs"] = parse_model_args(args.official_arg, flag="--official-arg")
    return kwargs


def parse_model_args(items: list[str], flag: str = "--arg") -> dict:
    """``["num_classes=10", "img_size=(64, 64)"]`` -> keyword arguments (values as Python literals)."""
    kwargs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value  # a bare word, e.g. gelu_approximate=tanh
    return kwargs


def _convert(args) -> int:
    model, report = load_pretrained(args.model, args.input, fmt=args.fmt, **model_kwargs(args))
    model.save_pretrained(args.output)
    print(f"{args.output}: {args.model} from {report.summary()}")
    return 0

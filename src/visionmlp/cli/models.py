"""``visionmlp list-models`` and ``visionmlp info``: what the registry holds."""

from __future__ import annotations

import json

from .. import hub
from ..models import build_model, get_entry, list_models
from ..models._official_args import SIGNATURES
from ..models._registry import variant_arguments


def register(sub) -> None:
    p = sub.add_parser("list-models", help="list registered model variants")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'mixer_*'")
    p.add_argument("--family", help="only this family")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="one name.tag per weight file instead (official files and the project's own trained weights)",
    )
    p.add_argument("--details", action="store_true", help="add family, input size and published figures")
    p.add_argument("--markdown", action="store_true", help="with --details: a Markdown table (the README's)")
    p.set_defaults(func=_list)

    p = sub.add_parser(
        "info",
        help="show one variant's every architecture argument, its published figures and the official constructors "
        "whose arguments official_kwargs takes, as JSON",
    )
    p.add_argument("model")
    p.set_defaults(func=_info)


def _list(args) -> int:
    lister = hub.list_pretrained if args.pretrained else list_models
    names = lister(args.pattern, family=args.family)
    if not names:
        raise ValueError(f"no model matches {args.pattern!r}" + (f" in family {args.family!r}" if args.family else ""))
    if not args.details or args.pretrained:
        print("\n".join(names))
        return 0
    rows = [_row(get_entry(name)) for name in names]
    if args.markdown:
        print("| model | family | input | params (built) | reference count | top-1 (published) | regime |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for name, family, size, params, ref, top1, regime in rows:
            print(f"{name:22s} {family:9s} {size:10s} {params:>8s}  ref {ref:16s} top-1 {top1:>6s}  {regime}")
    return 0


def _row(entry) -> tuple[str, ...]:
    """One variant: its built parameter count (on the meta device: nothing allocated) beside the figures."""
    model = build_model(entry.name, device="meta")
    built = sum(p.numel() for p in model.parameters()) + getattr(model, "aliased_params", 0)
    pub = entry.published
    if pub.params is None:
        ref = "-"
    elif pub.params_exact:
        ref = "official (exact)" if built == pub.params else f"official {pub.params:,}"
    else:
        ref = f"published {pub.params / 1e6:.1f}M"
    top1 = f"{pub.top1:.2f}" if pub.top1 is not None else "-"
    size = "x".join(map(str, entry.pretrained_cfg.input_size))
    return entry.name, entry.family, size, f"{built / 1e6:.2f}M", ref, top1, pub.regime


def _info(args) -> int:
    e = get_entry(args.model)
    print(
        json.dumps(
            {
                "name": e.name,
                "family": e.family,
                "arguments": variant_arguments(e.name),
                "variant_overrides": e.arch,
                "official_constructors": [sig.code for sig in SIGNATURES.get(e.family, ())],
                "pretrained_cfg": e.pretrained_cfg.to_dict(),
                "published": e.published.__dict__,
            },
            indent=2,
            default=str,
        )
    )
    return 0

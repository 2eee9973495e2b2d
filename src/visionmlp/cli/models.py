"""``visionmlp list-models`` and ``visionmlp info``: what the registry holds."""

from __future__ import annotations

import json

from ..models import get_entry, list_models


def register(sub) -> None:
    p = sub.add_parser("list-models", help="list registered model variants")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'mixer_*'")
    p.add_argument("--family", help="only this family")
    p.add_argument("--details", action="store_true", help="add family, input size and published figures")
    p.add_argument("--markdown", action="store_true", help="with --details: a Markdown table (the README's)")
    p.set_defaults(func=_list)

    p = sub.add_parser("info", help="show one variant's configuration and published figures as JSON")
    p.add_argument("model")
    p.set_defaults(func=_info)


def _list(args) -> int:
    names = list_models(args.pattern, family=args.family)
    if not names:
        raise ValueError(f"no model matches {args.pattern!r}" + (f" in family {args.family!r}" if args.family else ""))
    if not args.details:
        print("\n".join(names))
        return 0
    rows = [_row(get_entry(name)) for name in names]
    if args.markdown:
        print("| model | family | input | params | exact | top-1 | regime |")
        print("|---|---|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        for name, family, size, params, exact, top1, regime in rows:
            print(f"{name:24s} {family:9s} {size:10s} params {params:>8s} {exact:5s} top-1 {top1:>6s}  {regime}")
    return 0


def _row(entry) -> tuple[str, ...]:
    pub = entry.published
    params = f"{pub.params / 1e6:.2f}M" if pub.params else "-"
    exact = "exact" if pub.params_exact else ("pub." if pub.params else "")
    top1 = f"{pub.top1:.2f}" if pub.top1 is not None else "-"
    size = "x".join(map(str, entry.pretrained_cfg.input_size))
    return entry.name, entry.family, size, params, exact, top1, pub.regime


def _info(args) -> int:
    e = get_entry(args.model)
    print(
        json.dumps(
            {
                "name": e.name,
                "family": e.family,
                "arch": e.arch,
                "pretrained_cfg": e.pretrained_cfg.to_dict(),
                "published": e.published.__dict__,
            },
            indent=2,
            default=str,
        )
    )
    return 0

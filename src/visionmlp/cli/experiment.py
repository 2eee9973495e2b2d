"""``visionmlp experiment``: run one of the papers' claims as a study and write its report.

Writes ``<name>.md``, ``<name>.png`` and ``<name>.json`` into ``--out`` and refreshes the claims table
``README.md`` there. Every run is saved as it finishes, so an interrupted study resumes where it stopped when
the same command runs again. ``--budget tiny`` proves the pipeline in seconds, ``small`` fits in 30 minutes on
2 CPU cores, ``full`` is what the claims are judged at. ``--render`` rewrites the report and plot from the saved JSON
without training.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from ..experiments import BUDGETS, STUDIES, render_study, run_study, study_precision, write_index


def register(sub) -> None:
    p = sub.add_parser("experiment", help="run a paper's claim as a study (report, plot, JSON)",
                       description=__doc__.split("\n\n")[0])  # fmt: skip
    p.add_argument("name", choices=[*STUDIES, "all"], help="the study ('all': every one in turn)")
    p.add_argument("--budget", choices=list(BUDGETS), default="small", help="training budget (default: small)")
    p.add_argument("--out", default="docs/results", help="report folder (default: docs/results)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per point (default: the budget's, at least 2)")
    p.add_argument("--data", default="fashion-mnist", help="fashion-mnist, synthetic, or a Fashion-MNIST folder")
    p.add_argument(
        "--restart",
        action="store_true",
        help="discard the runs an interrupted invocation saved (default: reuse them and train the rest)",
    )
    p.add_argument("--render", action="store_true", help="rewrite the report and plot from the saved JSON, no training")
    p.set_defaults(func=_run)


def _run(args) -> int:
    out = Path(args.out)
    names = list(STUDIES) if args.name == "all" else [args.name]
    if not args.render:  # every run of a study trains with amp auto on this device
        print(study_precision().describe())
    for name in names:
        if args.render:
            doc = render_study(STUDIES[name], out)
            print(f"{name}: {doc['verdict']['status']} (rendered from {out / name}.json)")
            continue
        command = f"visionmlp experiment {name} --budget {args.budget} --out {shlex.quote(args.out)}"
        command += (f" --seeds {args.seeds}" if args.seeds else "") + (
            f" --data {shlex.quote(args.data)}" if args.data != "fashion-mnist" else ""
        )
        print(f"{name}: {STUDIES[name].claim}")
        doc = run_study(STUDIES[name], BUDGETS[args.budget], out, args.seeds, args.data, command, restart=args.restart)
        print(f"{name}: {doc['verdict']['status']}: {doc['verdict']['reason']} ({out / name}.md)")
    write_index(out, list(STUDIES.values()))
    return 0

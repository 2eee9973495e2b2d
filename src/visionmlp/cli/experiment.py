"""``visionmlp experiment``: run one of the papers' claims as a study and write its report.

Writes ``<name>.md``, ``<name>.png`` and ``<name>.json`` into ``--out`` and refreshes the claims table
``README.md`` there. Every run is saved as it finishes, so an interrupted study resumes where it stopped when
the same command runs again. ``--budget tiny`` proves the pipeline in seconds, ``small`` fits in 30 minutes on
2 CPU cores, ``full`` is what the claims are judged at. ``--render`` rewrites the report and plot from the saved JSON
without training.

``visionmlp experiment fashion-mnist --budget full`` is the Fashion-MNIST table instead of a claim: every recipe of
``configs/fashion_mnist_long/`` trained to its last epoch into ``--runs`` (resumed where a run was interrupted)
and scored once on the test set (``experiments/fashion_mnist.py``); ``--budget tiny`` proves that pipeline.
"""

from __future__ import annotations

import dataclasses
import shlex
import signal
import sys
from pathlib import Path

from ..experiments import BUDGETS, STUDIES, fashion_mnist, render_study, run_study, study_precision, write_index
from ..experiments._jobs import SweepStopped, cores
from ..utils.capabilities import capabilities
from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("experiment", help="run a paper's claim as a study (report, plot, JSON)",
                       description=__doc__.split("\n\n")[0])  # fmt: skip
    p.add_argument(
        "name",
        choices=[*STUDIES, fashion_mnist.NAME, "all"],
        help=f"the study ('all': every claim in turn; '{fashion_mnist.NAME}': the Fashion-MNIST table)",
    )
    p.add_argument("--budget", choices=list(BUDGETS), default="small", help="training budget (default: small)")
    p.add_argument("--out", default="docs/results", help="report folder (default: docs/results)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per point (default: the budget's, at least 2)")
    p.add_argument("--data", default="fashion-mnist", help="fashion-mnist, synthetic, or a Fashion-MNIST folder")
    p.add_argument(
        "--restart",
        action="store_true",
        help="discard the runs an interrupted invocation saved, and for fashion-mnist the rows of the report already "
        "in --out whose run folders are gone (default: reuse them and train the rest)",
    )
    p.add_argument("--render", action="store_true", help="rewrite the report and plot from the saved JSON, no training")
    p.add_argument(
        "--recipes",
        type=Path,
        default=fashion_mnist.RECIPES,
        help=f"{fashion_mnist.NAME}: the folder of recipes (default: configs/fashion_mnist_long)",
    )
    p.add_argument(
        "--runs",
        type=Path,
        default=Path("runs/long"),
        help=f"{fashion_mnist.NAME}: where the run folders go, one per recipe (default: runs/long)",
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="RECIPE",
        help=f"{fashion_mnist.NAME}: train only these recipes (by name, in this order); the others' finished runs are "
        "still scored and reported",
    )
    p.add_argument(
        "--no-train",
        dest="train",
        action="store_false",
        help=f"{fashion_mnist.NAME}: score and report the finished runs only, train nothing",
    )
    p.add_argument(
        "--any-cpu",
        action="store_true",
        help=f"{fashion_mnist.NAME} --budget full: train on a CPU without native bfloat16 too (the recipes' epochs "
        "were fitted to one; here they train in float32, slower, and a row may pass its CPU-hour budget)",
    )
    p.add_argument(
        "--release",
        action="store_true",
        help=f"{fashion_mnist.NAME}: write the float16 weights of each model's arm chosen on the hold-out, once "
        "all its arms have finished, to --weights (`visionmlp export release`)",
    )
    p.add_argument(
        "--weights",
        type=Path,
        default=fashion_mnist.WEIGHTS,
        help=f"{fashion_mnist.NAME}: the released weights' folder (default: the package's weights/fashion-mnist)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help=f"{fashion_mnist.NAME}: recipes trained at once, the cores shared evenly among them (on 2 cores, 2 "
        "runs of 1 thread train more images a second in all than 1 of 2: benchmarks/bench_jobs.py; the last "
        "recipe left resumes with every core; default: 1)",
    )
    p.set_defaults(func=_run)


def _run(args) -> int:
    out = Path(args.out)
    if args.name == fashion_mnist.NAME:
        return _fashion_mnist(args, out)
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


def _stop_sweep(signum, frame) -> None:
    raise SweepStopped(
        "the sweep got SIGTERM and stopped its running recipes, which saved their "
        "runs; the finished rows are saved, and the same command resumes the sweep"
    )


def _fashion_mnist(args, out: Path) -> int:
    if args.render:
        doc = fashion_mnist.render_table(out)
        print(f"rendered {out / fashion_mnist.NAME}.md from its JSON ({len(doc['rows'])} rows)")
        return 0
    if args.budget not in fashion_mnist.SWEEPS:
        raise UsageError(f"{fashion_mnist.NAME} runs its recipes as written (--budget full, hours of CPU) or "
                         "proves the pipeline in seconds (--budget tiny); it has no small budget")  # fmt: skip
    if not 1 <= args.jobs <= cores():
        raise UsageError(f"--jobs {args.jobs}: give 1 to {cores()} (this machine's cores); each run needs a core of "
                         "its own")  # fmt: skip
    recipes = fashion_mnist.recipes_in(args.recipes, args.runs)
    if not recipes:
        raise UsageError(f"no recipes (*.yaml) in {args.recipes}")
    only = args.only or []
    unknown = sorted(set(only) - {r.stem for r in recipes})
    if unknown:
        raise UsageError(f"--only {' '.join(unknown)}: no such recipe in {args.recipes}; the recipes are "
                         f"{', '.join(r.stem for r in recipes)}")  # fmt: skip
    recipes.sort(key=lambda r: only.index(r.stem) if r.stem in only else len(only))  # stable: the rest keep theirs
    trainable = () if not args.train else (only or None)
    caps = capabilities()
    if args.train and args.budget == "full" and not caps.native_bf16 and not args.any_cpu:
        raise UsageError(f"this CPU ({caps.describe()}) has no native bfloat16, so the long recipes would train in "
                         "float32, slower than on the CPU their epochs were fitted to, and a row could pass the "
                         f"{fashion_mnist.BUDGET_CPU_HOURS:g} CPU-hours it may cost; run the sweep on a CPU with "
                         "AVX512-BF16 or AMX, report the finished runs with --no-train, or pass --any-cpu to train "
                         "anyway (the table marks a row over budget)")  # fmt: skip
    command = f"visionmlp experiment {fashion_mnist.NAME} --budget {args.budget}"
    for flag, value, default in (("--out", args.out, "docs/results"), ("--runs", args.runs, Path("runs/long"))):
        command += f" {flag} {shlex.quote(str(value))}" if value != default else ""
    if args.recipes != fashion_mnist.RECIPES:
        command += f" --recipes {shlex.quote(str(args.recipes))}"
    sweep = fashion_mnist.SWEEPS[args.budget]
    if args.data != "fashion-mnist":
        sweep = dataclasses.replace(sweep, data=args.data)
        command += f" --data {shlex.quote(args.data)}"
    previous = signal.signal(signal.SIGTERM, _stop_sweep)  # the running recipes stop too, saving their runs
    try:
        doc = fashion_mnist.run_table(recipes, args.runs, out, sweep, command, restart=args.restart, train=trainable,
                                      release=args.release, weights=args.weights, jobs=args.jobs)  # fmt: skip
    except SweepStopped as err:
        print(f"visionmlp experiment: {err}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    for target in doc["targets"]:
        print(f"{target['target']}: {'met' if target['met'] else 'not met'}")
    print(f"wrote {out / fashion_mnist.NAME}.md, .json and .png")
    return 0

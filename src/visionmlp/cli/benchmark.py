"""``visionmlp benchmark``: parameters, MACs, throughput, latency, memory and roofline fraction of models.

Numbers come from ``visionmlp.bench``; this module only parses options and prints. ``--json`` prints one
document (schema ``visionmlp.benchmark/1``: ``{"schema", "results": [...]}``, one result per model as
``bench.run.benchmark`` returns it, plus ``compare_timm`` or ``compare_official`` under ``--compare``); otherwise a
table.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from ..bench.compare import REFERENCES
from ..bench.report import RUNS, write_report
from ..bench.revision import compare_revision
from ..bench.roofline import MATMUL_SIDE
from ..bench.run import DTYPES, MEASURES, BenchConfig, benchmark
from ..models import list_models
from ..utils.capabilities import capabilities
from ..utils.precision import emulated_warning
from . import UsageError

SCHEMA = "visionmlp.benchmark/1"


def register(sub) -> None:
    p = sub.add_parser(
        "benchmark",
        help="measure params, MACs, throughput, latency, memory and fraction of the matmul rate",
        description="Benchmark models (a name or a shell-style glob such as 'mixer_*') on random weights.",
    )
    p.add_argument("models", nargs="*", help="model names or glob patterns (none with --report)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--img-size", type=int, default=None, help="square input side (default: the variant's)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32", help="weights and activations")
    p.add_argument("--amp", action="store_true", help="float32 weights under bfloat16 autocast")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (inductor)")
    p.add_argument("--channels-last", action="store_true", help="channels-last weights and inputs")
    p.add_argument("--fuse", action="store_true", help="model.fuse() before inference (not training)")
    p.add_argument(
        "--pack", action="store_true", help="model.pack(): oneDNN-prepacked Linear weights for CPU inference"
    )
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds (median, min, max)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    p.add_argument("--measure", default=",".join(MEASURES), help=f"comma-separated subset of {','.join(MEASURES)}")
    p.add_argument("--roofline", action="store_true", help="time a matmul in the same dtype alternately")
    p.add_argument("--matmul-side", type=int, default=MATMUL_SIDE, help="side of the roofline's square matmul")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile each measured step over --rounds runs and list the N operators with the most self time",
    )
    p.add_argument(
        "--compare", choices=REFERENCES, help="time timm's or the authors' implementation alternately with ours"
    )
    p.add_argument(
        "--official-root",
        metavar="DIR",
        help="with --compare official: a folder holding clones of the official repositories under their names",
    )
    p.add_argument(
        "--revision",
        metavar="REV",
        help="time each model against a git revision's build of it (same weights, alternating rounds) for the "
        "inference and training measures: the ratio REV time / working-tree time, above 1 faster now",
    )
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    report = p.add_argument_group("the performance report (docs/results/performance.md, bench/report.py)")
    report.add_argument("--report", action="store_true", help="measure this CPU kind's tables and rewrite the report")
    report.add_argument("--render", action="store_true", help="with --report: rewrite it from the saved JSON only")
    report.add_argument("--only", nargs="+", choices=list(RUNS), metavar="RUN",
                        help=f"with --report: re-measure these runs, keep the others ({', '.join(RUNS)})")  # fmt: skip
    report.add_argument(
        "--report-dir", default="docs/results", help="with --report: its folder (default: docs/results)"
    )
    p.set_defaults(func=_run)


def _names(patterns: list[str]) -> list[str]:
    names: list[str] = []
    for pattern in patterns:
        found = list_models(pattern)
        if not found:
            raise UsageError(f"no model matches {pattern!r}; see `visionmlp list-models`")
        names += [n for n in found if n not in names]
    return names


def _config(args) -> BenchConfig:
    return BenchConfig(
        batch_size=args.batch_size,
        img_size=args.img_size,
        dtype=args.dtype,
        amp=args.amp,
        compile=args.compile,
        channels_last=args.channels_last,
        fuse=args.fuse,
        pack=args.pack,
        threads=args.threads,
        device=args.device,
        rounds=args.rounds,
        warmup=args.warmup,
        roofline=args.roofline,
        matmul_side=args.matmul_side,
        measure=tuple(m.strip() for m in args.measure.split(",") if m.strip()),
        memory=not args.no_memory,
        profile=args.profile,
    )


def _run(args) -> int:
    if args.report:
        path = write_report(Path(args.report_dir), args.render, args.official_root, args.only)
        print(f"wrote {path}")
        return 0
    if args.render or args.only:
        raise UsageError("--render and --only belong to --report")
    if not args.models:
        raise UsageError("name the models to benchmark (names or globs such as 'mixer_*'), or pass --report")
    cfg = _config(args)
    names = _names(args.models)
    if args.revision:
        return _against_revision(args, cfg, names)
    if args.compare:
        from ..bench import compare

        try:
            for name in names:
                compare.check_comparable(name, args.compare, args.official_root, args.img_size)
        except (compare.TimmUnavailable, ValueError) as err:
            raise UsageError(f"--compare {args.compare}: {err}") from err
    elif args.official_root:
        raise UsageError("--official-root is for --compare official; add that option or drop the root")
    _say_precision(cfg)
    _warn_if_loaded(cfg)
    results = []
    for name in names:
        result = benchmark(name, cfg)
        if args.compare:
            result[f"compare_{args.compare}"] = compare.compare(name, cfg, args.compare, args.official_root)
        results.append(result)
        if not args.json:
            _print_row(result, first=len(results) == 1)
    if args.json:
        print(json.dumps({"schema": SCHEMA, "results": results}, indent=1))
    return 0


def _against_revision(args, cfg: BenchConfig, names: list[str]) -> int:
    """``--revision``: the working tree against REV, model by model (``bench/revision.py``)."""
    if args.compare:
        raise UsageError("--revision times two builds of our models; drop --compare")
    kinds = [m for m in cfg.measure if m in ("inference", "training")]
    if not kinds:
        raise UsageError("--revision times inference and training steps; add one of them to --measure")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    dtype = DTYPES[cfg.dtype]
    precision = "float32 weights under bfloat16 autocast" if cfg.amp else cfg.dtype
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {cfg.batch_size}, {precision}; ratio = "
          f"{args.revision} time / working-tree time per round (median, range)", file=sys.stderr)  # fmt: skip
    rows = []
    try:
        for kind in kinds:
            for row in compare_revision(args.revision, names, dtype, cfg.batch_size, kind == "training",
                                        cfg.rounds, cfg.warmup, cfg.amp):  # fmt: skip
                rows.append({**row, "measure": kind, "ratio": row["ratio"].to_dict()})
                if not args.json:
                    print(_revision_row(row, kind, args.revision), flush=True)
    except ValueError as err:
        raise UsageError(str(err)) from err
    if args.json:
        print(json.dumps({"schema": "visionmlp.revision/1", "revision": args.revision, "results": rows}, indent=1))
    return 0


def _revision_row(row: dict, kind: str, rev: str) -> str:
    times = f"{rev} {1e3 * row['revision_s']:.1f} ms, working tree {1e3 * row['working_tree_s']:.1f} ms"
    check = f"max abs diff {row['max_abs_diff']:.2g} (features up to {row['feature_scale']:.2g})"
    return f"{row['model']} {kind}: {row['ratio']:.2f}; {times}; {check}"


def _say_precision(cfg: BenchConfig) -> None:
    """The precision measured and the CPU kind, with the emulation warning where bfloat16 is not native; on
    stderr, so that ``--json`` output stays one document."""
    how = "float32 weights under bfloat16 autocast" if cfg.amp else f"{cfg.dtype} weights"
    device = torch.device(cfg.device)
    where = f"CPU kind {capabilities().describe()}" if device.type == "cpu" else str(device)
    print(f"precision: {how}, as asked; {where}", file=sys.stderr)
    warning = emulated_warning(device) if cfg.compute_dtype == torch.bfloat16 else None
    if warning:
        print(warning, file=sys.stderr)


def _warn_if_loaded(cfg: BenchConfig) -> None:
    """One warning when other work already keeps the cores busy: the benchmark's threads would share them, and a
    run on a loaded 2-core machine measured 10x below the same run with --threads 1."""
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    threads = cfg.threads or torch.get_num_threads()
    if load + threads > cores + 0.5:
        print(f"warning: the 1-minute load average is {load:.1f} on {cores} cores, so other work competes with the "
              f"benchmark's {threads} threads: timings will be low and noisy; measure on a quiet machine or lower "
              "--threads (ratios such as --roofline and --compare suffer less)", file=sys.stderr)  # fmt: skip


# (header, width, value of a result or None): the table's columns
_COLUMNS = (
    ("params(M)", 9, lambda r: f"{r['params'] / 1e6:.2f}"),
    ("GMACs/img", 9, lambda r: f"{r['gmacs_per_image']:.3f}"),
    ("img/s", 8, lambda r: _median(r, "inference", "images_per_s", "{:.1f}")),
    ("GFLOP/s", 8, lambda r: _median(r, "inference", "gflops", "{:.1f}")),
    ("roof", 6, lambda r: _median(r, "inference", "fraction", "{:.1%}")),
    ("train/s", 8, lambda r: _median(r, "training", "images_per_s", "{:.1f}")),
    ("roof", 6, lambda r: _median(r, "training", "fraction", "{:.1%}")),
    ("b1 ms", 7, lambda r: _median(r, "latency", "seconds", "{:.1f}", scale=1e3)),
    ("mem MB", 7, lambda r: _memory(r)),
    ("/ref", 6, lambda r: _reference_ratio(r)),
    ("load", 5, lambda r: f"{r['machine_after']['load_avg'][0]:.2f}"),
)


def _median(r: dict, section: str, key: str, fmt: str, scale: float = 1.0) -> str:
    return fmt.format(r[section][key]["median"] * scale) if key in r.get(section, {}) else "-"


def _memory(r: dict) -> str:
    peaks = [r[s]["peak_memory_bytes"] for s in ("inference", "training") if "peak_memory_bytes" in r.get(s, {})]
    return f"{max(peaks) / 2**20:.1f}" if peaks else "-"


def _reference_ratio(r: dict) -> str:
    """Our time over the reference's (timm or official), inference or else latency."""
    cmp = next((r[f"compare_{ref}"] for ref in REFERENCES if f"compare_{ref}" in r), {})
    section = cmp.get("inference") or cmp.get("latency")
    return f"{section['ratio']['median']:.2f}" if section else "-"


def _print_row(r: dict, first: bool) -> None:
    if first:
        print(f"{'model':20s} " + " ".join(f"{h:>{w}s}" for h, w, _ in _COLUMNS))
    print(f"{r['model']:20s} " + " ".join(f"{fn(r):>{w}s}" for _, w, fn in _COLUMNS), flush=True)
    for section in MEASURES:
        for op in r.get(section, {}).get("profile", []):
            print(f"  {section:9s} {op['share']:6.1%} {op['self_ms']:9.3f} ms {op['calls']:6.1f} calls  {op['op']}")

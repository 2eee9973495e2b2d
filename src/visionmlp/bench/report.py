"""``visionmlp benchmark --report``: run the benchmarks on this CPU kind, then write every kind's tables into
docs/results/performance.md.

    visionmlp benchmark --report                           # measure (10-15 min on 2 cores) and write
    visionmlp benchmark --report --official-root DIR       # also time the official code (+5 min)
    scripts/as-cpu-kind.sh avx2 visionmlp benchmark --report   # the avx2 kind, on a wider CPU
    visionmlp benchmark --report --only timm_fp32          # re-measure one run of this kind
    visionmlp benchmark --report --render                  # rewrite the tables from the saved JSON

The CPU kind (``visionmlp.utils.capabilities``: amx, avx512, avx2) is the probe's; a run replaces that kind's
measurements in docs/results/performance.json and keeps the other kinds', so the document holds one table per
kind, each measured with the same commands. bfloat16 runs only where the kind computes it natively.

``DIR`` holds local clones of the official repositories (``visionmlp.bench.official``); they are never part
of this repository, and the recorded commands name the folder ``$OFFICIAL_ROOT``.

Each table row is one ``visionmlp benchmark ... --json`` run, whose exact command is printed in the
document; the JSON documents are kept in docs/results/performance.json so every number can be traced.
Fractions are per-round ratios against a 2048^2 matmul in the same dtype timed alternately with the
model in the same process (``--roofline``), so machine load shared by both cancels to first order.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from ..utils.capabilities import KINDS, capabilities
from .official import NOT_RUNNABLE, SOURCES

# Everything below this line in the markdown is hand-written (the speed-work log) and kept on regeneration.
NOTES_MARKER = "<!-- hand-written notes below: kept by visionmlp benchmark --report -->"

SHARED = ["mixer_s16_224", "mixer_b16_224", "resmlp_12_224", "gmlp_s16_224"]  # timm implements these
OTHERS = [
    "convmlp_s", "vip_s7", "dynamixer_s", "cyclemlp_b1", "asmlp_t", "s2mlpv2_s", "s2mlp_deep", "ffonly_tiny",
    "eamlp_14",
]  # fmt: skip
SMALL = ["mixer_s4_28", "resmlp_s4_28", "convmlp_s4_28"]  # what the demo and recipes train: the autocast cost
STRICT = {"mixer_s16_224", "mixer_b16_224", "resmlp_12_224"}  # fp32 inference target 90%, the rest 85%
TARGETS = {"bf16": 0.75, "train": 0.85, "timm_latency": 0.8, "timm_fp32": 1.15, "official_fp32": 1.1,
           "official_bf16": 1.5}  # fmt: skip
BF16_RUNS = ("bf16", "bf16_compile", "official_bf16")  # measured only where the kind computes bfloat16 natively
# The families timm lacks whose official code runs on a CPU (bench.official); the rest say why not.
OFFICIAL = [name for name in OTHERS if name in SOURCES]
OFFICIAL_PLACEHOLDER = "$OFFICIAL_ROOT"
SCHEMA = "visionmlp.performance/2"  # {"schema", "kinds": {kind: {run: benchmark document}}}

RUNS = {
    "fp32": [
        "--dtype",
        "float32",
        "--fuse",
        "--pack",
        "--roofline",
        "--measure",
        "inference,training",
        "--rounds",
        "5",
        "--no-memory",
    ],
    "bf16": [
        "--dtype", "bfloat16", "--fuse", "--pack", "--roofline", "--measure", "inference", "--rounds", "5",
        "--no-memory",
    ],
    # the other inference path: inductor with freezing (it does its own prepacking, so no --pack)
    "bf16_compile": [
        "--dtype", "bfloat16", "--fuse", "--compile", "--roofline", "--measure", "inference", "--rounds", "5",
        "--no-memory",
    ],
    "latency": [
        "--dtype", "float32", "--fuse", "--pack", "--measure", "latency", "--compare", "timm", "--rounds", "15",
    ],
    "timm_fp32": [
        "--dtype", "float32", "--fuse", "--pack", "--measure", "inference", "--compare", "timm", "--rounds", "15",
        "--no-memory",
    ],
    # a training step of the small variants in float32 and under bfloat16 autocast: what amp auto decides on
    "train_fp32": ["--dtype", "float32", "--measure", "training", "--rounds", "3", "--no-memory"],
    "train_amp": ["--dtype", "float32", "--amp", "--measure", "training", "--rounds", "3", "--no-memory"],
    **{
        f"official_{dtype}": [
            "--dtype", name, "--fuse", "--pack", "--measure", "inference", "--compare", "official", "--rounds", "7",
            "--no-memory", "--official-root", OFFICIAL_PLACEHOLDER,
        ]
        for dtype, name in (("fp32", "float32"), ("bf16", "bfloat16"))
    },
}  # fmt: skip


def command(run: str) -> list[str]:
    models = (SHARED if run in ("latency", "timm_fp32") else OFFICIAL if run.startswith("official")
              else SMALL if run.startswith("train_") else SHARED + OTHERS)  # fmt: skip
    batch = "128" if run.startswith("train_") else "8"
    return ["visionmlp", "benchmark", *models, "--batch-size", batch, "--threads", "2", *RUNS[run], "--json"]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def measure(official_root: str | None, only: list[str] | None = None) -> dict:
    """Every run's JSON document for this CPU kind (or the ``only`` ones); the official comparisons only with
    ``official_root``, the bfloat16 runs only where bfloat16 is native."""
    native = capabilities().native_bf16
    wanted = [r for r in RUNS if (official_root or not r.startswith("official")) and (native or r not in BF16_RUNS)]
    docs = {}
    for run in (r for r in wanted if only is None or r in only):
        cmd = command(run)
        print("running:", shlex.join(cmd), flush=True)
        before = uptime()
        argv = [official_root if arg == OFFICIAL_PLACEHOLDER else arg for arg in cmd[1:]]
        proc = subprocess.run([sys.executable, "-m", "visionmlp.cli", *argv], capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
        docs[run] = {
            "command": shlex.join(cmd).replace(shlex.quote(OFFICIAL_PLACEHOLDER), OFFICIAL_PLACEHOLDER),
            "uptime_before": before,
            "uptime_after": uptime(),
            **json.loads(proc.stdout),
        }
    return docs


def _median(result: dict, section: str, key: str) -> float:
    return result[section][key]["median"]


def _range(result: dict, section: str, key: str, fmt: str = "{:.0%}") -> str:
    s = result[section][key]
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}-{fmt.format(s['max'])})"


def _speedup(ratio: dict) -> tuple[float, str]:
    """Their time over ours from a ratio of ours over theirs: the median, and ``1.26x (1.13-1.36)``."""
    median, low, high = (1 / ratio[k] for k in ("median", "max", "min"))
    return median, f"{median:.2f}x ({low:.2f}-{high:.2f})"


def _met(value: float, target: float, below: bool = False) -> str:
    return "**met**" if (value <= target if below else value >= target) else "not met"


KIND_NAMES = {"amx": "Intel Xeon with AMX", "avx512": "AVX-512 with bfloat16 (AMD EPYC Zen 4)",
              "avx2": "AVX2 only, no native bfloat16"}  # fmt: skip


def render(kinds: dict) -> str:
    """The whole document: the method, then one section per CPU kind (measured or marked not measured)."""
    lines = [
        "# Performance per CPU kind",
        "",
        "Generated by `visionmlp benchmark --report` (re-run it to regenerate this CPU kind's section; `--render`",
        "rewrites this file from `performance.json`). The CPU kind is the capability probe's",
        '(`visionmlp.utils.capabilities`; README, "Precision and CPU kinds"); every kind is measured with the same',
        "commands, and bfloat16 only where the kind computes it natively. Batch 8, 224x224, random weights,",
        "`model.fuse()` and `model.pack()` for inference, 2 threads.",
        "Fractions are achieved GFLOP/s (FLOPs counted by `FlopCounterMode` on the meta device; a training",
        "step is 3x the forward FLOPs) over a 2048^2 matmul in the same dtype, timed alternately with the model",
        "in the same run: median of the per-round ratios (min-max in brackets). The bound is the dense",
        "matmul rate the targets are defined against (PyTorch's `mm`), not a hardware peak, and it depends on",
        "the CPU: where MKL's sgemm lags oneDNN (x86 CPUs not made by Intel, `layers/linear.py`) the models'",
        "oneDNN kernels can score above 100%; on an Intel CPU the sgemm runs near the vector peak.",
        "",
        "**Machine load.** Other work can share the 2 cores during these runs; `uptime` before and",
        "after each run is listed with it. Ratios measured side by side are robust to that load to first",
        "order (both sides slow down together), absolute rates are not.",
        "",
    ]
    for kind in KINDS:
        if kind in kinds:
            lines += render_kind(kind, kinds[kind])
        else:
            lines += [f"## CPU kind {kind}: {KIND_NAMES[kind]}", "", "Not measured yet: run the script on such a CPU.",
                      ""]  # fmt: skip
    return "\n".join(lines)


def render_kind(kind: str, docs: dict) -> list[str]:
    """One CPU kind's section: how it was measured, the fractions and targets, and the comparisons."""
    fp32 = {r["model"]: r for r in docs["fp32"]["results"]}
    bf16 = {r["model"]: r for r in docs["bf16"]["results"]} if "bf16" in docs else {}
    machine = docs["fp32"]["results"][0]["machine_before"]
    capped = docs.get("capped_by")
    lines = [
        f"## CPU kind {kind}: {KIND_NAMES[kind]}",
        "",
        f"CPU: {machine.get('cpu', 'not recorded')}"
        + (
            f", capped to this kind by `{capped}` (PyTorch, oneDNN and MKL use only its instructions)."
            if capped
            else "."
        ),  # fmt: skip
        "",
    ]
    if not bf16:
        lines += ["bfloat16: not measured on this kind, which has no native bfloat16 (it is emulated; the",
                  "autocast cost below shows by how much).", ""]  # fmt: skip
    sections = (("fp32", "float32 inference and training step"), ("bf16", "bfloat16 inference, eager `pack()`"),
                ("bf16_compile", "bfloat16 inference, `torch.compile` with freezing"))  # fmt: skip
    for run, title in (section for section in sections if section[0] in docs):
        doc = docs[run]
        mm = [r["inference"]["matmul_gflops"]["median"] for r in doc["results"]]
        dtype = title.split()[0]
        lines += [
            f"### {title}",
            "",
            f"    {doc['command']}",
            "",
            *_uptimes(doc),
            f"- {dtype} matmul rate measured beside the models: median of medians {sorted(mm)[len(mm) // 2]:.0f} "
            f"GFLOP/s (range over models {min(mm):.0f}-{max(mm):.0f})",
            "",
        ]
    compiled = {r["model"]: r for r in docs["bf16_compile"]["results"]} if "bf16_compile" in docs else {}
    lines += [
        "### Results and targets",
        "",
        "The bfloat16 target is judged on the faster of the two inference paths measured above (eager `pack()`",
        "or `torch.compile`), each a fraction of the bf16 matmul timed beside it in its own run.",
        "",
        "| model | GMACs/img | fp32 inf GFLOP/s | fp32 inf / fp32 matmul | target | bf16 inf GFLOP/s, faster path "
        "| bf16 inf / bf16 matmul, `pack()` | compiled | bf16 target 75%, faster path "
        "| fp32 train / fp32 matmul (target 85%) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in fp32.items():
        target = 0.90 if name in STRICT else 0.85
        f_inf, f_tr = _median(r, "inference", "fraction"), _median(r, "training", "fraction")
        bf16_cells = ["not measured"] * 4
        if name in bf16:
            paths = {"pack()": bf16[name], **({"compiled": compiled[name]} if name in compiled else {})}
            best = max(paths, key=lambda path: _median(paths[path], "inference", "fraction"))
            f_bf = _median(paths[best], "inference", "fraction")
            bf16_cells = [
                f"{_median(paths[best], 'inference', 'gflops'):.0f}", _range(bf16[name], "inference", "fraction"),
                _range(compiled[name], "inference", "fraction") if name in compiled else "not measured",
                f"{f_bf:.0%} ({best}) {_met(f_bf, TARGETS['bf16'])}",
            ]  # fmt: skip
        lines.append(
            f"| {name} | {r['gmacs_per_image']:.2f} | {_median(r, 'inference', 'gflops'):.0f} "
            f"| {_range(r, 'inference', 'fraction')} | {target:.0%}: {_met(f_inf, target)} "
            f"| {' | '.join(bf16_cells)} | {_range(r, 'training', 'fraction')} {_met(f_tr, TARGETS['train'])} |"
        )
    return [*lines, "", *render_timm(docs), *render_autocast(docs), *render_official(docs)]


def _uptimes(doc: dict) -> list[str]:
    return [f"- uptime before: `{doc['uptime_before']}`", f"- uptime after: `{doc['uptime_after']}`"]


def render_timm(docs: dict) -> list[str]:
    """float32 against timm: batch-8 throughput (where measured) and batch-1 latency."""
    lines = []
    if "timm_fp32" in docs:
        doc = docs["timm_fp32"]
        lines += [
            "### float32 inference vs timm, batch 8",
            "",
            f"    {doc['command']}",
            "",
            *_uptimes(doc),
            "",
            "Same weights in both (timm's init converted by `visionmlp.convert`), checked to compute the same",
            "function, timed alternately in one process; speed-up = timm time / ours per round, target >= 1.15x.",
            "",
            "| model | ours img/s | timm img/s | speed-up | target 1.15x | max abs diff |",
            "|---|---|---|---|---|---|",
        ]
        for r in doc["results"]:
            c, batch = r["compare_timm"]["inference"], r["input_shape"][0]
            median, text = _speedup(c["ratio"])
            lines.append(
                f"| {r['model']} | {batch / c['ours']['median']:.1f} | {batch / c['timm']['median']:.1f} "
                f"| {text} | {_met(median, TARGETS['timm_fp32'])} | {r['compare_timm']['max_abs_diff']:.1e} |"
            )
        lines.append("")
    else:
        lines += ["### float32 inference vs timm, batch 8", "", "Not measured on this kind (the run predates it).", ""]
    doc = docs["latency"]
    lines += [
        "### Batch-1 float32 latency vs timm",
        "",
        f"    {doc['command']}",
        "",
        *_uptimes(doc),
        "",
        "Same weights in both, checked to compute the same function (max abs diff below), timed alternately;",
        "ratio = ours / timm per round, target <= 0.8.",
        "",
        "| model | ours ms | timm ms | ratio ours/timm | target 0.8 | max abs diff |",
        "|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        c = r["compare_timm"]["latency"]
        met = _met(c["ratio"]["median"], TARGETS["timm_latency"], below=True)
        lines.append(
            f"| {r['model']} | {c['ours']['median'] * 1e3:.1f} | {c['timm']['median'] * 1e3:.1f} "
            f"| {_range(r['compare_timm'], 'latency', 'ratio', '{:.2f}')} | {met} "
            f"| {r['compare_timm']['max_abs_diff']:.1e} |"
        )
    return [
        *lines,
        "",
        f"timm version: {doc['results'][0]['compare_timm']['timm_version']}. The other families "
        f"({', '.join(OTHERS)}) have no timm implementation; they are compared with their official code below.",
        "",
    ]


def render_autocast(docs: dict) -> list[str]:
    """What bfloat16 autocast costs or gains in a training step of the small variants: what amp auto decides."""
    lines = ["### bfloat16 autocast in a training step, batch 128 at 28x28", ""]
    if "train_amp" not in docs:
        return [*lines, "Not measured on this kind (the run predates it).", ""]
    fp32 = {r["model"]: r for r in docs["train_fp32"]["results"]}
    lines += [
        *(f"    {docs[run]['command']}" for run in ("train_fp32", "train_amp")),
        "",
        *(
            f"- uptime around the {run} run: `{docs[run]['uptime_before']}` / `{docs[run]['uptime_after']}`"
            for run in ("train_fp32", "train_amp")
        ),  # fmt: skip
        "",
        "Two runs one after the other (not alternated): autocast / float32 is the ratio of their median step",
        "times, so read it to the first digit.",
        "",
        "| model | float32 ms/step | bf16 autocast ms/step | autocast time / float32 time |",
        "|---|---|---|---|",
    ]
    for r in docs["train_amp"]["results"]:
        ours, base = _median(r, "training", "seconds"), _median(fp32[r["model"]], "training", "seconds")
        lines.append(f"| {r['model']} | {base * 1e3:.0f} | {ours * 1e3:.0f} | {ours / base:.2f}x |")
    return [*lines, ""]


def render_official(docs: dict) -> list[str]:
    """The table against the official implementations, or why it is missing."""
    lines = ["### Throughput vs the official implementations", ""]
    if "official_fp32" not in docs:
        return [
            *lines,
            "Not measured in this run: re-run with `--official-root DIR` (clones of the official",
            "repositories).",
            "",
        ]
    runs = [run for run in ("official_fp32", "official_bf16") if run in docs]
    lines += [
        *(f"    {docs[run]['command']}" for run in runs),
        "",
        *(f"- uptime around the {run[-4:]} run: `{docs[run]['uptime_before']}` / `{docs[run]['uptime_after']}`"
          for run in runs),
        "",
        "`$OFFICIAL_ROOT` holds local clones of the authors' repositories (`visionmlp.bench.official` names the",
        "file and constructor of each); their code is imported unmodified and never committed. Same weights in",
        "both (the official random init, perturbed, converted by `visionmlp.convert`), checked to compute the",
        "same function, timed alternately at batch 8 (ours with `fuse()` and `pack()`); speed-up = official time /",
        "ours per round, median (min-max).",
        "",
        "| model | official code | ours img/s fp32 | official img/s fp32 | speed-up fp32 (target 1.1x) "
        "| ours img/s bf16 | official img/s bf16 | speed-up bf16 (target 1.5x) | max abs diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    fp32 = {r["model"]: r for r in docs["official_fp32"]["results"]}
    bf16 = {r["model"]: r for r in docs["official_bf16"]["results"]} if "official_bf16" in docs else {}
    for name, r in fp32.items():
        cells = [] if name in bf16 else ["not measured"] * 3
        for doc, target in ((r, TARGETS["official_fp32"]), (bf16.get(name), TARGETS["official_bf16"])):
            if doc is None:
                continue
            c, batch = doc["compare_official"]["inference"], doc["input_shape"][0]
            median, text = _speedup(c["ratio"])
            cells += [
                f"{batch / c['ours']['median']:.1f}",
                f"{batch / c['official']['median']:.1f}",
                f"{text} {_met(median, target)}",
            ]
        cmp = r["compare_official"]
        lines.append(f"| {name} | {cmp['official_repo']} | {' | '.join(cells)} | {cmp['max_abs_diff']:.1e} |")
    lines += ["", "Not measured, because the official code cannot run here:", ""]
    lines += [f"- {family}: {reason}" for family, reason in NOT_RUNNABLE.items()]
    return [*lines, ""]


def write_report(
    folder: Path, render_only: bool = False, official_root: str | None = None, only: list[str] | None = None
) -> Path:
    """Measure this CPU kind's runs (all, or ``only`` these, keeping its others) unless ``render_only``, save them
    in ``folder/performance.json`` beside the other kinds', and rewrite ``folder/performance.md`` (keeping the
    hand-written notes below :data:`NOTES_MARKER`); returns the markdown's path."""
    folder.mkdir(parents=True, exist_ok=True)
    out_md, out_json = folder / "performance.md", folder / "performance.json"
    kinds = json.loads(out_json.read_text())["kinds"] if out_json.exists() else {}
    if not render_only:
        os.environ.setdefault("OMP_NUM_THREADS", "2")
        kind = capabilities().kind
        if kind not in KINDS:
            raise ValueError(f"this CPU's kind {kind!r} is not one the report has a section for ({', '.join(KINDS)})")
        docs = measure(official_root, only)
        if os.environ.get("ATEN_CPU_CAPABILITY"):  # as scripts/as-cpu-kind.sh sets it
            docs["capped_by"] = f"scripts/as-cpu-kind.sh {kind}"
        kinds[kind] = {**kinds.get(kind, {}), **docs} if only else docs
        out_json.write_text(json.dumps({"schema": SCHEMA, "kinds": kinds}, indent=1))
    notes = out_md.read_text().partition(NOTES_MARKER)[2] if out_md.exists() else ""
    out_md.write_text(render(kinds) + "\n" + NOTES_MARKER + (notes or "\n"))
    return out_md

"""Training throughput of one run with every core against several runs at once with the cores shared evenly:
what ``visionmlp experiment fashion-mnist --jobs N`` buys. Each side is ``visionmlp benchmark MODEL --measure
training`` in fresh processes (threads are fixed per process); the sides alternate for ``--rounds`` rounds, and
the table gives the medians of the images a second summed over the concurrent processes, and their ratio.
``--roofline`` adds each side's training step as a share of the ``mm`` rate timed beside it in its process (the
training issue's yardstick: a step should reach half of it), the mean over the concurrent processes.

    .venv/bin/python benchmarks/bench_jobs.py asmlp_s4_28 cyclemlp_s4_28 dynamixer_s4_28 bit_s2_28

Measure on a quiet machine (pause long runs); the ratio is what carries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys


def side(model: str, processes: int, threads: int, args) -> tuple[float, float | None]:
    """``processes`` concurrent benchmarks of ``threads`` threads each: their images a second summed, and their
    mean share of the ``mm`` rate (None without ``--roofline``)."""
    argv = [sys.executable, "-m", "visionmlp.cli", "benchmark", model, "--batch-size", str(args.batch_size),
            "--threads", str(threads), "--measure", "training", "--rounds", str(args.steps), "--warmup",
            str(args.warmup), "--no-memory", "--json", *(["--amp"] if args.amp else []),
            *(["--roofline"] if args.roofline else [])]  # fmt: skip
    running = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
               for _ in range(processes)]  # fmt: skip
    steps = []
    for proc in running:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"visionmlp benchmark {model} failed (exit status {proc.returncode})")
        steps.append(json.loads(out)["results"][0]["training"])
    share = statistics.mean(s["fraction"]["median"] for s in steps) if args.roofline else None
    return sum(s["images_per_s"]["median"] for s in steps), share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--jobs", type=int, default=2, help="concurrent runs on the shared side (default: 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per process (its median counts)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--float32", dest="amp", action="store_false", help="float32 (default: bfloat16 autocast)")
    parser.add_argument("--roofline", action="store_true", help="also each side's share of the mm rate beside it")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    if not 1 < args.jobs <= cores:
        parser.error(f"--jobs {args.jobs}: give 2 to {cores} (this machine's cores)")
    shared = cores // args.jobs
    head = f"model | 1 run of {cores} threads: images/s | {args.jobs} runs of {shared}: images/s in all | ratio"
    print(head + (" | of the mm rate: 1 run | each of the runs" if args.roofline else ""))
    print("---|---|---|---" + ("|---|---" if args.roofline else ""))
    for model in args.models:
        alone, together = [], []
        for _ in range(args.rounds):
            alone.append(side(model, 1, cores, args))
            together.append(side(model, args.jobs, shared, args))
        a, t = (statistics.median(rate for rate, _ in rounds) for rounds in (alone, together))
        shares = ""
        if args.roofline:
            shares = " | " + " | ".join(
                f"{100 * statistics.median(s for _, s in rounds):.1f}%" for rounds in (alone, together)
            )
        print(f"{model} | {a:.0f} | {t:.0f} | {t / a:.2f}x{shares}")


if __name__ == "__main__":
    main()

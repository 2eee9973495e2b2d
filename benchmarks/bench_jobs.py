"""Training throughput of one run with every core against several runs at once with the cores shared evenly:
what ``visionmlp experiment fashion-mnist --jobs N`` buys. Each side is ``visionmlp benchmark MODEL --measure
training`` in fresh processes (threads are fixed per process); the sides alternate for ``--rounds`` rounds, and
the table gives the medians of the images a second summed over the concurrent processes, and their ratio.

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


def images_per_s(model: str, processes: int, threads: int, args) -> float:
    """The images a second of ``processes`` concurrent benchmarks of ``threads`` threads each, summed."""
    argv = [sys.executable, "-m", "visionmlp.cli", "benchmark", model, "--batch-size", str(args.batch_size),
            "--threads", str(threads), "--measure", "training", "--rounds", str(args.steps), "--warmup",
            str(args.warmup), "--no-memory", "--json", *(["--amp"] if args.amp else [])]  # fmt: skip
    running = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
               for _ in range(processes)]  # fmt: skip
    total = 0.0
    for proc in running:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"visionmlp benchmark {model} failed (exit status {proc.returncode})")
        total += json.loads(out)["results"][0]["training"]["images_per_s"]["median"]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--jobs", type=int, default=2, help="concurrent runs on the shared side (default: 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per process (its median counts)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--float32", dest="amp", action="store_false", help="float32 (default: bfloat16 autocast)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    if not 1 < args.jobs <= cores:
        parser.error(f"--jobs {args.jobs}: give 2 to {cores} (this machine's cores)")
    shared = cores // args.jobs
    print(f"model | 1 run of {cores} threads: images/s | {args.jobs} runs of {shared}: images/s in all | ratio")
    print("---|---|---|---")
    for model in args.models:
        alone, together = [], []
        for _ in range(args.rounds):
            alone.append(images_per_s(model, 1, cores, args))
            together.append(images_per_s(model, args.jobs, shared, args))
        a, t = statistics.median(alone), statistics.median(together)
        print(f"{model} | {a:.0f} | {t:.0f} | {t / a:.2f}x")


if __name__ == "__main__":
    main()

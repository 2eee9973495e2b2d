"""Training steps with glibc's default malloc against the process keeping its freed memory (utils/allocator.py),
side by side: each round runs one fresh process per policy, alternating, and the table gives the medians and the
ratio. A policy is process-wide and cannot be undone in a process, hence processes rather than alternating steps.

    .venv/bin/python benchmarks/bench_allocator.py vip_s4_28 mixer_s4_28 --rounds 3

Per step: images/s, minor page faults (each a 4 KiB page the kernel zeroed) and the share of wall time spent in
the kernel. Measure on a quiet machine (pause long runs); the ratio is what carries.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

POLICIES = {"system": {"VISIONMLP_ALLOCATOR": "system"}, "kept": {}}


def child(args) -> None:
    import torch

    from visionmlp.bench.flops import input_shape
    from visionmlp.bench.throughput import training_step
    from visionmlp.models import build_model, get_entry
    from visionmlp.utils.allocator import keep_freed_memory

    policy = keep_freed_memory()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(input_shape(args.child, args.batch_size, None))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if args.amp else None
    step = training_step(build_model(args.child), x, get_entry(args.child).pretrained_cfg.num_classes, autocast)
    for _ in range(args.warmup):
        step()
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(args.steps):
        step()
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "policy": policy,
        "images_per_s": args.steps * args.batch_size / wall,
        "faults_per_step": (after.ru_minflt - before.ru_minflt) / args.steps,
        "kernel_share": (after.ru_stime - before.ru_stime) / wall,
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--float32", dest="amp", action="store_false", help="float32 (default: bfloat16 autocast)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if not args.models:
        parser.error("name at least one model, e.g. vip_s4_28")
    flags = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--batch-size", str(args.batch_size),
             "--threads", str(args.threads)] + ([] if args.amp else ["--float32"])  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "VISIONMLP_ALLOCATOR"}
    print("model | malloc | images/s | faults/step | kernel time | speed-up")
    print("---|---|---|---|---|---")
    for model in args.models:
        runs = {name: [] for name in POLICIES}
        for _ in range(args.rounds):
            for name, env in POLICIES.items():
                done = subprocess.run([sys.executable, __file__, "--child", model, *flags], env={**clean, **env},
                                      capture_output=True, text=True, check=True)  # fmt: skip
                runs[name].append(json.loads(done.stdout.splitlines()[-1]))
        rate = {name: statistics.median(r["images_per_s"] for r in rows) for name, rows in runs.items()}
        for name, rows in runs.items():
            faults = statistics.median(r["faults_per_step"] for r in rows)
            kernel = statistics.median(r["kernel_share"] for r in rows)
            gain = f"{rate[name] / rate['system']:.2f}x" if name != "system" else ""
            print(f"{model} | {rows[0]['policy']} | {rate[name]:.0f} | {faults:.0f} | {100 * kernel:.0f}% | {gain}")


if __name__ == "__main__":
    main()

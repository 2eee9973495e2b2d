"""Time one optimizer step on small models' parameters: the per-tensor loop, foreach and fused kernels.

Usage: python benchmarks/bench_optimizer.py [--threads N] [--opt adamw|sgd]

The three implementations step the same parameters (random gradients) in alternating rounds in one
process; the median of the rounds is printed per model. ``train/optim.py`` uses the fused kernel
wherever it applies.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import visionmlp
from visionmlp.train.optim import param_groups

MODELS = ("convmlp_s4_28", "mixer_s4_28", "vit_s4_28", "mixer_s16_224")
KINDS = {"loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def build(kind: str, opt: str, model: torch.nn.Module) -> torch.optim.Optimizer:
    groups = param_groups(model, 0.05)
    if opt == "adamw":
        return torch.optim.AdamW(groups, lr=1e-3, **KINDS[kind])
    return torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True, **KINDS[kind])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--opt", choices=("adamw", "sgd"), default="adamw")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    columns = " | ".join(f"{k} (ms)" for k in KINDS)
    print(f"| model | params | {columns} | loop / fused |  ({args.opt}, {args.threads} threads)")
    print("|---|---|" + "---|" * (len(KINDS) + 1))
    for name in MODELS:
        model = visionmlp.create_model(name)
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        optimizers = {kind: build(kind, args.opt, model) for kind in KINDS}
        times = {kind: [] for kind in KINDS}
        for _ in range(args.rounds):
            for kind, optimizer in optimizers.items():
                optimizer.step()  # warm: the state exists before timing
                start = time.perf_counter()
                for _ in range(5):
                    optimizer.step()
                times[kind].append((time.perf_counter() - start) / 5 * 1000)
        med = {kind: statistics.median(t) for kind, t in times.items()}
        params = sum(p.numel() for p in model.parameters())
        cells = " | ".join(f"{med[k]:.2f}" for k in KINDS)
        print(f"| {name} | {params / 1e6:.2f} M | {cells} | {med['loop'] / med['fused']:.1f} |")


if __name__ == "__main__":
    main()

"""Time PyTorch's dropout and the project's (``visionmlp.layers.drop.dropout``) side by side on CPU.

Usage: python benchmarks/bench_dropout.py [--threads N] [--rounds R]

The shapes are the four dropouts of eamlp_s4_28's tokens-to-token layers at batch 128 (the attention map over
128 memory units and the projection, on the 14x14 and the 7x7 token grid). Each round times forward + backward
of both kernels one after the other; the table gives the median over rounds and their ratio. The whole training
step is ``visionmlp benchmark eamlp_s4_28 --measure training --revision REV`` against a revision before the change.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from visionmlp.layers.drop import dropout

SHAPES = {"14x14 attention map": (128, 196, 128), "14x14 projection": (128, 196, 32),
          "7x7 attention map": (128, 49, 128), "7x7 projection": (128, 49, 32)}  # fmt: skip


def time_once(kernel, x: torch.Tensor, repeats: int = 5) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        kernel(x, 0.1, training=True).sum().backward()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| shape | dtype | torch (ms) | visionmlp (ms) | torch / visionmlp |  ({args.threads} threads, p=0.1)")
    print("|---|---|---|---|---|")
    for name, shape in SHAPES.items():
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.randn(*shape, dtype=dtype, requires_grad=True)
            times = {F.dropout: [], dropout: []}
            for _ in range(args.rounds + 1):  # the first round warms up
                for kernel, seen in times.items():
                    seen.append(time_once(kernel, x))
            torch_ms, ours_ms = (statistics.median(seen[1:]) for seen in times.values())
            print(f"| {name} {tuple(shape)} | {str(dtype)[6:]} | {torch_ms:.2f} | {ours_ms:.2f} | "
                  f"{torch_ms / ours_ms:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()

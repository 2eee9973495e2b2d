"""Time the fused and the composed attention kernels side by side on CPU.

Usage: python benchmarks/bench_attention.py [--threads N]

For each shape (a ViT-B/16 batch at 224, the small ViT on Fashion-MNIST) and each of float32 / bfloat16,
inference and training (forward + backward), it prints both kernels' times and their ratio, measured in
the same process one after the other. ``visionmlp.layers.attention`` picks the composed kernel only where
this shows it faster: bfloat16 with gradients on CPU. Then it times whole training steps of vit_s4_28
(batch 128, bfloat16 autocast, AdamW) with each kernel, in alternating rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import visionmlp
import visionmlp.layers.attention as attention_module
from visionmlp.layers.attention import composed_attention

SHAPES = {"vit_base_patch16_224 x32": (32, 12, 197, 64), "vit_s4_28 x128": (128, 3, 49, 32)}


def time_kernel(kernel, shape, dtype, train: bool, repeats: int = 5) -> float:
    q, k, v = (torch.randn(*shape, dtype=dtype, requires_grad=train) for _ in range(3))

    def run():
        if train:
            kernel(q, k, v).sum().backward()
        else:
            with torch.no_grad():
                kernel(q, k, v)

    run()
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats * 1000


def train_step_ratios(rounds: int = 4, steps: int = 3) -> list[float]:
    """fused-kernel step time / composed-kernel step time of vit_s4_28, per alternating round."""
    model = visionmlp.create_model("vit_s4_28", num_classes=10, in_chans=1)
    opt = torch.optim.AdamW(model.parameters())
    x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
    chooser = attention_module.uses_composed_kernel

    def step_time(use_composed: bool) -> float:
        attention_module.uses_composed_kernel = chooser if use_composed else (lambda q: False)
        try:
            for i in range(steps + 1):  # the first step warms up
                if i == 1:
                    start = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            return (time.perf_counter() - start) / steps
        finally:
            attention_module.uses_composed_kernel = chooser

    return [step_time(False) / step_time(True) for _ in range(rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| shape | dtype | pass | fused (ms) | composed (ms) | fused / composed |  ({args.threads} threads)")
    print("|---|---|---|---|---|---|")
    for name, shape in SHAPES.items():
        for dtype in (torch.float32, torch.bfloat16):
            for train in (False, True):
                fused = time_kernel(F.scaled_dot_product_attention, shape, dtype, train)
                composed = time_kernel(composed_attention, shape, dtype, train)
                print(f"| {name} | {str(dtype)[6:]} | {'train' if train else 'infer'} | {fused:.1f} | "
                      f"{composed:.1f} | {fused / composed:.2f} |")  # fmt: skip
    ratios = train_step_ratios()
    print(f"\nvit_s4_28 training step (batch 128, bf16 autocast): fused / composed = {statistics.median(ratios):.2f} "
          f"(median of {len(ratios)} alternating rounds, range {min(ratios):.2f}-{max(ratios):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()

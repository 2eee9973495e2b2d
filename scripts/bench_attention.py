"""Time the fused and the composed attention kernels side by side on CPU.

Usage: python scripts/bench_attention.py [--threads N]

For each shape (a ViT-B/16 batch at 224, the small ViT on Fashion-MNIST) and each of float32 / bfloat16,
inference and training (forward + backward), it prints both kernels' times and their ratio, measured in
the same process one after the other. ``visionmlp.layers.attention`` picks the composed kernel only where
this shows it faster: bfloat16 with gradients on CPU.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

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


if __name__ == "__main__":
    main()

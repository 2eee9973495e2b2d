"""Time ``model.pack()`` (oneDNN-prepacked Linear weights, GELU fused into fc1) against the unpacked model,
side by side: first an MLP's fc1+GELU on channel-MLP shapes, then whole models in inference.

Usage: python benchmarks/bench_packed.py [--threads N] [--rounds R] [--dtypes float32 bfloat16] [--models NAME ...]

Each comparison alternates the two sides within every round in one process and prints the median of the
per-round ratios (unpacked time / packed time) with its range; > 1 means packing is faster. Models are
built once, ``fuse()``d and cast, then copied, so both sides hold the same weights; the packed side's
largest difference from the unpacked side in ``forward_features`` (several families start with a zero
head, so logits would hide it) is printed with the features' scale.
"""

from __future__ import annotations

import argparse
import copy

import torch
from torch import nn

import visionmlp
from visionmlp.bench.report import OTHERS, SHARED
from visionmlp.bench.throughput import Stats, Step, alternate, inference_step, per_round_ratio
from visionmlp.layers.linear import Linear
from visionmlp.models import get_entry

# (rows, in, out): Mixer-S/16 x8 and ResMLP-12 x8 fc1, the small Fashion-MNIST models' fc1 x128
SHAPES = [(1568, 512, 2048), (1568, 384, 1536), (6272, 128, 512)]
MODELS = SHARED + OTHERS  # the performance table's models: the S variant of every family


def ratio(steps: dict[str, Step], rounds: int) -> tuple[Stats, dict[str, Stats]]:
    stats = alternate(steps, rounds=rounds, warmup=2, sync=lambda: None)
    return per_round_ratio(stats["unpacked"], stats["packed"]), stats


def kernel_steps(rows: int, cin: int, cout: int, dtype: torch.dtype) -> dict[str, Step]:
    torch.manual_seed(0)
    x = torch.randn(rows, cin, dtype=dtype)
    unpacked = Linear(cin, cout).to(dtype)
    packed = copy.deepcopy(unpacked)
    packed.pack()
    act = nn.GELU()

    def step(layer: Linear) -> Step:
        def run():
            with torch.inference_mode():
                layer.forward_activated(x, act)

        return run

    return {"unpacked": step(unpacked), "packed": step(packed)}


def model_steps(name: str, batch: int, dtype: torch.dtype) -> tuple[dict[str, Step], float, float]:
    torch.manual_seed(0)
    unpacked = visionmlp.create_model(name).eval().fuse().to(dtype)
    packed = copy.deepcopy(unpacked).pack()
    x = torch.randn(batch, *get_entry(name).pretrained_cfg.input_size, dtype=dtype)
    with torch.inference_mode():
        ref = unpacked.forward_features(x).float()
        diff = (packed.forward_features(x).float() - ref).abs().max().item()
    return {"unpacked": inference_step(unpacked, x), "packed": inference_step(packed, x)}, diff, ref.abs().max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dtypes", nargs="*", default=["float32", "bfloat16"])
    parser.add_argument("--models", nargs="*", default=MODELS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtypes = [getattr(torch, d) for d in args.dtypes]
    print(f"torch {torch.__version__}, {args.threads} threads; ratio = unpacked time / packed time (median, range)")
    for dtype in dtypes:
        for rows, cin, cout in SHAPES:
            r, stats = ratio(kernel_steps(rows, cin, cout, dtype), args.rounds)
            rates = ", ".join(f"{k} {2 * rows * cin * cout / v.median / 1e9:.0f} GFLOP/s" for k, v in stats.items())
            shape = f"{rows}x{cin}->{cout}"
            print(f"fc1+GELU {str(dtype)[6:]:8s} {shape}: {r:.2f}; {rates}")
    for dtype in dtypes:
        for name in args.models:
            steps, diff, scale = model_steps(name, 8, dtype)
            r, stats = ratio(steps, args.rounds)
            times = ", ".join(f"{k} {1e3 * v.median:.0f} ms" for k, v in stats.items())
            print(
                f"model {str(dtype)[6:]:8s} inference {name} x8: {r:.2f}; {times}; "
                f"max abs diff {diff:.2g} (features up to {scale:.2g})",
                flush=True,
            )


if __name__ == "__main__":
    main()

"""Time ``F.linear`` against ``layers.linear.linear_as_conv`` (a 1x1 oneDNN convolution over the rows), side by
side: first the kernels alone on channel-MLP shapes, then whole models with the conv path switched on and off.

Usage: python benchmarks/bench_linear.py [--threads N] [--rounds R] [--models NAME ...]

Each comparison alternates the two sides within every round in one process and prints the median of the
per-round ratios (time of F.linear / time of the conv path) with its range; > 1 means the conv is faster.
``layers.linear`` takes the conv path only where this showed it faster: float32 on CPU without autocast, on a
non-Intel x86 CPU with MKL (the models' rows here force it on and off whatever the machine).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import visionmlp
from visionmlp.bench.throughput import Stats, Step, alternate, inference_step, per_round_ratio, training_step
from visionmlp.layers.linear import linear_as_conv
from visionmlp.models import get_entry
from visionmlp.utils.capabilities import forced

# (rows, in, out): Mixer-S/16 x8 channel MLP, ResMLP-12 x8, the small Fashion-MNIST models x128
SHAPES = [(1568, 512, 2048), (1568, 2048, 512), (1568, 384, 1536), (6272, 128, 512), (6272, 512, 128)]
MODELS = ["mixer_s16_224", "resmlp_12_224", "gmlp_s16_224", "vip_s7", "cyclemlp_b1", "s2mlpv2_s", "ffonly_tiny"]


def ratio(steps: dict[str, Step], rounds: int) -> tuple[Stats, dict[str, Stats]]:
    stats = alternate(steps, rounds=rounds, warmup=2, sync=lambda: None)
    return per_round_ratio(stats["linear"], stats["conv"]), stats


def kernel_steps(rows: int, cin: int, cout: int, dtype: torch.dtype, train: bool) -> dict[str, Step]:
    x = torch.randn(rows, cin, dtype=dtype, requires_grad=train)
    weight = torch.randn(cout, cin, dtype=dtype, requires_grad=train)
    bias = torch.randn(cout, dtype=dtype, requires_grad=train)

    def step(fn):
        def run():
            with torch.set_grad_enabled(train):
                out = fn(x, weight, bias)
                if train:
                    out.sum().backward()

        return run

    return {"linear": step(F.linear), "conv": step(linear_as_conv)}


def model_steps(name: str, batch: int, train: bool) -> dict[str, Step]:
    torch.manual_seed(0)
    model = visionmlp.create_model(name)
    x = torch.randn(batch, *get_entry(name).pretrained_cfg.input_size)
    step = training_step(model.train(), x, model.num_classes, None) if train else inference_step(model.eval(), x)

    def with_conv(enabled: bool) -> Step:
        def run():
            with forced(conv_linear=enabled):
                step()

        return run

    return {"linear": with_conv(False), "conv": with_conv(True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--models", nargs="*", default=MODELS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads; ratio = F.linear time / conv time (median, range)")
    for dtype in (torch.float32, torch.bfloat16):
        for train in (False, True):
            for rows, cin, cout in SHAPES:
                r, stats = ratio(kernel_steps(rows, cin, cout, dtype, train), args.rounds)
                flops = 2 * rows * cin * cout * (3 if train else 1)
                rates = ", ".join(f"{k} {flops / v.median / 1e9:.0f} GFLOP/s" for k, v in stats.items())
                kind = "train" if train else "infer"
                print(f"kernel {str(dtype)[6:]:8s} {kind} {rows}x{cin}->{cout}: {r:.2f}; {rates}")
    for train in (False, True):
        for name in args.models:
            r, stats = ratio(model_steps(name, 8, train), args.rounds)
            kind = "training step" if train else "inference"
            times = ", ".join(f"{k} {1e3 * v.median:.0f} ms" for k, v in stats.items())
            print(f"model float32 {kind} {name} x8: {r:.2f}; {times}", flush=True)


if __name__ == "__main__":
    main()

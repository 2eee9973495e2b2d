"""``visionmlp demo``: train a small MLP on Fashion-MNIST for a few minutes and print its test accuracy.

The defaults are chosen for the slowest CPU the project runs on, a 2-core AVX2 CPU in float32: ConvMLP's small
variant costs a third of the other families' MACs per image (9 M against about 30 M), so it sees more images in
the budget; batch 64 gives it more updates; and no random crop, because a run of about two epochs learns faster
without it. A 3-minute demo of the Mixer (the previous default) stayed well below 85% there.

It is ``visionmlp train`` with a time budget, in the precision the hardware computes fastest (``amp: auto``:
bfloat16 where the CPU has AVX512-BF16 or AMX, float32 elsewhere): the learning-rate schedule runs over the budget,
which covers the per-epoch scoring on the 10,000 test images too, and the run stops in time for the last one.
"""

from __future__ import annotations

import tempfile

from ..train import TrainConfig
from ..utils.capabilities import capabilities
from ..utils.cpu import cpu_summary
from .train import run


def register(sub) -> None:
    p = sub.add_parser("demo", help="train a small MLP on Fashion-MNIST for a few minutes")
    p.add_argument("--model", default="convmlp_s4_28", help="a 28x28 model (default: convmlp_s4_28)")
    p.add_argument("--minutes", type=float, default=3.0, help="training time budget (default: 3)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="fashion-mnist", help="fashion-mnist or a folder with its IDX files")
    p.add_argument("--output", default=None, help="keep the run here (default: a temporary folder)")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    if args.minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {args.minutes}")
    print(f"visionmlp demo: {args.model} on Fashion-MNIST, {args.minutes:g} min budget")
    print(f"CPU: {cpu_summary()}, kind {capabilities().kind}")
    with tempfile.TemporaryDirectory(prefix="visionmlp-demo-") as tmp:
        cfg = TrainConfig(
            model=args.model, data=args.data, output=args.output or tmp, epochs=10, batch_size=args.batch_size,
            lr=args.lr, warmup_epochs=0.1, scale_min=1.0, weight_decay=0.05, label_smoothing=0.1, seed=args.seed,
            time_budget=60 * args.minutes, amp="auto",
        )  # fmt: skip
        result = run(cfg)
    if result.last_eval is None:
        return 130
    st, ev = result.state, result.last_eval
    rate = st.global_step * args.batch_size / max(st.elapsed, 1e-9)
    print(f"trained {st.global_step} steps in {st.elapsed:.0f} s ({rate:.0f} images/s); "
          f"test top-1 on the {ev.count:,} test images: {100 * ev.top1:.2f}%")  # fmt: skip
    return 0

"""``visionmlp demo``: train a small MLP on Fashion-MNIST for a few minutes and print its test accuracy."""

from __future__ import annotations

import torch

from ..data import load_fashion_mnist
from ..models import create_model
from ..train import train_quick


def register(sub) -> None:
    p = sub.add_parser("demo", help="train a small MLP-Mixer on Fashion-MNIST for a few minutes")
    p.add_argument("--model", default="mixer_s4_28", help="a 28x28 model (default: mixer_s4_28)")
    p.add_argument("--minutes", type=float, default=3.0, help="training time budget (default: 3)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="folder with the Fashion-MNIST IDX files (default: Debian's)")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    if args.minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {args.minutes}")
    train_x, train_y = load_fashion_mnist("train", args.data)
    test_x, test_y = load_fashion_mnist("test", args.data)
    torch.manual_seed(args.seed)
    model = create_model(args.model, in_chans=1, num_classes=10, img_size=28)
    params = sum(p.numel() for p in model.parameters())
    print(f"visionmlp demo: {args.model} ({params / 1e6:.2f} M params) on Fashion-MNIST, {args.minutes:g} min budget")
    result = train_quick(
        model, train_x, train_y, test_x, test_y,
        time_budget=60 * args.minutes, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
    )  # fmt: skip
    epochs = result.images_seen / len(train_x)
    print(
        f"trained {result.steps} steps ({epochs:.2f} epochs) in {result.seconds:.0f} s; "
        f"test top-1 on the 10,000 test images: {100 * result.test_top1:.2f}%"
    )
    return 0

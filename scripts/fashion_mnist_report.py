"""Write docs/results/fashion-mnist.{md,json,png} from finished ``visionmlp train`` run folders.

Usage: python scripts/fashion_mnist_report.py RUN_DIR [RUN_DIR ...]

Each run folder holds the ``config.yaml`` and ``summary.csv`` the trainer wrote. A row reports the
recipe's final model after its last epoch — the EMA weights when the recipe keeps an EMA, else the
raw weights — on the 10,000 Fashion-MNIST test images (the ``val`` split of fashion-mnist). The best
epoch is not picked, since that would select on the test set. The measured figures are also written
into the second line of each family's recipe (``configs/fashion_mnist/<family>.yaml``), so the recipe
and the table cannot disagree.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch
import yaml

import visionmlp
from visionmlp.bench.flops import model_cost
from visionmlp.utils.atomic import atomic_path, atomic_write_text

OUT = Path("docs/results")
RECIPES = Path("configs/fashion_mnist")
# Everything below this line in the markdown is hand-written (reading the results) and kept on regeneration.
NOTES_MARKER = "<!-- hand-written notes below: kept by scripts/fashion_mnist_report.py -->"
BASELINE_FAMILIES = {"vit", "resnet", "bit"}
# Published anchors on the Fashion-MNIST test set (the targets).
TARGETS = {"every family": 0.916, "best all-MLP": 0.940, "best overall": 0.950}


def is_all_mlp(model: torch.nn.Module, family: str) -> bool:
    """No attention or CNN baseline, and no convolution beyond one patch stem."""
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    return family not in BASELINE_FAMILIES and convs <= 1


def record(run: Path) -> dict:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    rows = list(csv.DictReader((run / "summary.csv").open()))
    if not rows or int(rows[-1]["epoch"]) != int(cfg["epochs"]):
        raise SystemExit(f"{run}: the run has not finished its {cfg['epochs']} epochs")
    name = cfg["model"]
    family = visionmlp.get_entry(name).family
    model = visionmlp.create_model(name, device="meta", in_chans=1, num_classes=10, **(cfg.get("model_kwargs") or {}))
    last = rows[-1]
    top1 = float(last["ema_top1"]) if cfg.get("ema") else float(last["val_top1"])
    return {
        "model": name,
        "family": family,
        "all_mlp": is_all_mlp(model, family),
        "params": sum(p.numel() for p in model.parameters()),
        "macs": round(model_cost(model, (1, 1, 28, 28)).macs_per_image),
        "epochs": int(last["epoch"]),
        "wall_seconds": round(float(last["elapsed_s"])),
        "test_top1": top1,
        "command": f"visionmlp train -c configs/fashion_mnist/{family}.yaml",
        "curve": [
            {
                "epoch": int(r["epoch"]),
                "val_top1": float(r["val_top1"]),
                "ema_top1": float(r["ema_top1"]) if r.get("ema_top1") else None,
                "train_loss": float(r["train_loss"]),
            }
            for r in rows
        ],  # fmt: skip
    }


def plot(records: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (acc, loss) = plt.subplots(1, 2, figsize=(11, 4))
    for r in records:
        epochs = [p["epoch"] for p in r["curve"]]
        key = "ema_top1" if r["curve"][-1]["ema_top1"] is not None else "val_top1"
        acc.plot(epochs, [100 * p[key] for p in r["curve"]], label=r["model"])
        loss.plot(epochs, [p["train_loss"] for p in r["curve"]], label=r["model"])
    acc.axhline(91.6, color="grey", linestyle=":", linewidth=1, label="2-layer CNN 91.6%")
    acc.set(xlabel="epoch", ylabel="test top-1 (%)", title="Fashion-MNIST test accuracy", ylim=(80, 100))
    loss.set(xlabel="epoch", ylabel="train loss", title="training loss")
    for ax in (acc, loss):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def markdown(records: list[dict], families: list[str]) -> str:
    rows = "\n".join(
        f"| {r['model']} | {r['family']} | {'yes' if r['all_mlp'] else 'no'} | {r['params'] / 1e6:.2f} M | "
        f"{r['macs'] / 1e6:.0f} M | {r['epochs']} | {r['wall_seconds'] / 60:.0f} min | {100 * r['test_top1']:.2f}% | "
        f"`{r['command']}` |"
        for r in sorted(records, key=lambda r: -r["test_top1"])
    )
    done = {r["family"] for r in records}
    missing = [f for f in families if f not in done]
    best_mlp = max((r["test_top1"] for r in records if r["all_mlp"]), default=None)
    best = max(r["test_top1"] for r in records)

    def verdict(value, target):
        return "not run yet" if value is None else f"{100 * value:.2f}%: {'met' if value >= target else 'not met'}"

    below = [r["model"] for r in records if r["test_top1"] < TARGETS["every family"]]
    every = f"not met ({', '.join(below)})" if below else ("not all families run yet" if missing else "met")
    epochs = sorted({r["epochs"] for r in records})
    schedule = f"{epochs[0]} epochs" if len(epochs) == 1 else "the epochs listed"
    return f"""# Fashion-MNIST: every family's small variant, trained here

Generated by `scripts/fashion_mnist_all.sh RUNS_DIR [FAMILY...]`, which trains each family's recipe in turn
and then runs `python scripts/fashion_mnist_report.py` on the finished run folders; each row's command
reproduces it alone. Test top-1 is the recipe's final model after its last epoch (the EMA weights where the
recipe keeps an EMA) on the 10,000 test images; no epoch is picked on the test set. Every family's small
variant costs about 30 M MACs per image (ConvMLP's 10 M aside), so the rows compare families at equal
compute, with one shared recipe: {schedule} in bfloat16, light augmentation. Wall time is the training run's
on the project's 2-core CPU, including the per-epoch evaluation; other work sometimes shared the machine, so
MACs are the cleaner cost to compare. Machine-readable rows: `fashion-mnist.json`.

| model | family | all-MLP | params | MACs/image | epochs | wall time | test top-1 | command |
|---|---|---|---|---|---|---|---|---|
{rows}

![training curves](fashion-mnist.png)

## Targets (published anchors on the same test set)

- every family at least 91.6% (the 2-layer CNN): {every}
- best all-MLP model (no convolution beyond the patch stem) at least 94.0%: {verdict(best_mlp, TARGETS["best all-MLP"])}
- best model overall at least 95.0% (ResNet-18's 94.9%): {verdict(best, TARGETS["best overall"])}

Families not run yet: {", ".join(missing) if missing else "none"}.
"""


def update_recipe_header(r: dict) -> None:
    """Put the measured top-1, epochs and wall time on the recipe's second line."""
    path = RECIPES / f"{r['family']}.yaml"
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = (f"# Measured test top-1: {100 * r['test_top1']:.2f}% (final model, {r['epochs']} epochs).  "
                f"Wall time: {r['wall_seconds'] / 60:.0f} min on 2 CPU cores.\n")  # fmt: skip
    atomic_write_text(path, "".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run folders")
    args = parser.parse_args()
    records = [record(run) for run in args.runs]
    families = sorted({visionmlp.get_entry(n).family for n in visionmlp.list_models("*_28")})
    plot(records, OUT / "fashion-mnist.png")
    atomic_write_text(OUT / "fashion-mnist.json", json.dumps([{k: v for k, v in r.items() if k != "curve"}
                                                              for r in records], indent=2) + "\n")  # fmt: skip
    md = OUT / "fashion-mnist.md"
    notes = md.read_text().partition(NOTES_MARKER)[2] if md.exists() else ""
    atomic_write_text(md, markdown(records, families) + "\n" + NOTES_MARKER + (notes or "\n"))
    for r in records:
        update_recipe_header(r)
    print(f"wrote {OUT}/fashion-mnist.md, .json and .png from {len(records)} run(s)")


if __name__ == "__main__":
    main()

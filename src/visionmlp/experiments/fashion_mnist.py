"""The Fashion-MNIST table (``visionmlp experiment fashion-mnist``): every recipe trained to its last epoch by
``visionmlp train``, its final model scored once on the test set by ``visionmlp validate``, and the project's
targets judged on the result.

Why commands and not the trainer in-process: each row's command is what a reader runs to reproduce it, so the
sweep runs exactly those commands (a row cannot drift from its command), and a run folder is the trainer's own
journal: an interrupted recipe resumes from its ``last.pth``, a finished one is not trained again. Each scored row
is saved in the study journal (``experiments/_journal.py``) as it is scored, so an interrupted sweep keeps its
rows too. Neither is versioned: in a new checkout the committed report is the record of the finished rows. A row
also records the hash of its run's ``summary.csv``, so a later sweep keeps the report's row of a finished run folder
that has not changed since it was scored, rather than scoring it on the test set again.
Recipes are chosen on the 6,000 held-out training images (``data: fashion-mnist:holdout``); the test images are
scored once per finished run, here, and never select anything. The final model is the last epoch's EMA or raw
weights, whichever scores higher on the hold-out (``final_weights``); no epoch is picked. Where a model has several
recipes (arms: with and without a teacher), the hold-out chooses the one the targets are judged on and whose
weights ship (``--release``); the other arms stay in the table, so a distilled row stands beside the same model
trained alone.

Costs are CPU-hours: each epoch's wall time (from the trainer's ``elapsed_s``, per-epoch evaluation included)
times the threads it ran with (``threads`` in ``summary.csv``; runs logged before that column had the machine's),
on the CPU the epoch names (``cpu``), since the sessions' machines differ in speed.
A distilled row's cost includes its teacher's forward passes but not the teacher's training, which is the
teacher's own row (counted once). ``--jobs N`` trains N recipes at once on shared cores (``_jobs.py`` says why).
The time profile of a step comes from the trainer's phase clock (``summary.csv``): data, EMA and evaluation
against the whole, the median over epochs (an epoch that shared the machine or was paused does not move it).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shlex
import statistics
import time
from collections.abc import Callable, Collection
from contextlib import closing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
import yaml
from safetensors import safe_open

from ..bench.flops import model_cost
from ..models import build_model, get_entry, is_all_mlp, list_models
from ..utils.atomic import atomic_path, atomic_write_text
from ..utils.cpu import cpu_summary
from ._jobs import Commands, Launcher, run_jobs
from ._journal import RunJournal, journal_path

NAME = "fashion-mnist"
#: the recipes the table is made of: the long, hold-out-chosen ones shipped with the package
RECIPES = Path(str(resources.files("visionmlp") / "configs" / "fashion_mnist_long"))
#: the shipped float16 weights a finished row is released to (``visionmlp export release``)
WEIGHTS = Path(str(resources.files("visionmlp") / "weights" / "fashion-mnist"))
# Everything below this line in the markdown is hand-written (reading the results) and kept on regeneration.
NOTES_MARKER = "<!-- hand-written notes below: kept by visionmlp experiment fashion-mnist -->"
#: what a row may cost on the 2-core machine, priced at its median epoch (the teacher's training counted once, on its
#: own row); a row above it is marked in the table
BUDGET_CPU_HOURS = 3.0
#: the hold-out column of ``summary.csv`` that scores each kind of final weights
SCORES = {"ema": "ema_top1", "raw": "val_top1"}
PHASES = ("data_s", "forward_s", "backward_s", "optimizer_s", "ema_s", "validation_s")
OVERHEAD = ("data_s", "ema_s", "validation_s")  # what is not the model's own step


@dataclass(frozen=True)
class Target:
    label: str
    top1: float
    anchor: str


TARGETS = (
    Target("every family", 0.916, "the published 2-layer CNN's 91.6%"),
    Target(
        "best all-MLP model (no convolution beyond the patch stem)", 0.940, "the project's target for an all-MLP model"
    ),
    Target("best model", 0.950, "ResNet-18's published 94.9%"),
)


@dataclass(frozen=True)
class Sweep:
    """``tiny`` proves the pipeline in seconds (one epoch on a few images, the test set cut to ``test_images``);
    ``full`` runs every recipe as written."""

    name: str
    train_flags: tuple[str, ...] = ()
    test_images: int | None = None
    data: str | None = None  # other data than the recipes' (a pipeline check on synthetic images)


SWEEPS = {
    "tiny": Sweep(
        "tiny",
        ("--epochs", "1", "--limit-train", "64", "--limit-val", "32", "--workers", "0", "--batch-size", "16"),
        test_images=64,
    ),  # fmt: skip
    "full": Sweep("full"),
}


def recipes_in(folder: Path, runs: Path | None = None) -> list[Path]:
    """The folder's recipes in the order a sweep takes them: teachers first (a recipe whose run another one distils
    from trains before it), then the runs an earlier session left half-done in ``runs`` (finished before new ones
    start), then the rest by name."""
    recipes = sorted(folder.glob("*.yaml"))
    teachers = (_recipe(r).get("teacher") for r in recipes)
    taught = {Path(str(t)).name for t in teachers if t}

    def started(recipe: Path) -> bool:
        return runs is not None and (runs / recipe.stem / "last.pth").is_file()

    return sorted(recipes, key=lambda r: (r.stem not in taught, not started(r), r.stem))


def run_table(recipes: list[Path], runs: Path, out: Path, sweep: Sweep, command: str,
              log: Callable[[str], None] = print, restart: bool = False, train: Collection[str] | None = None,
              release: bool = False, weights: Path = WEIGHTS, jobs: int = 1) -> dict:  # fmt: skip
    """Train (or resume) and score every recipe into ``runs/<recipe>``, then write ``fashion-mnist.md/.json/.png``
    into ``out``; returns the JSON document. ``train`` names the recipes that may train (None: all of them); the
    others are scored when their runs are finished and listed as pending otherwise (``()``: a report between the
    sessions a long sweep takes). ``release``: write the float16 weights of every model's chosen arm into
    ``weights`` once none of its arms is still training. ``jobs``: recipes trained at once, the cores shared
    evenly among them (a student still waits for its teacher; runs left alone resume with the freed cores)."""
    out.mkdir(parents=True, exist_ok=True)
    # Rows are keyed by recipe, so a recipe added to the folder or retired from it keeps the others' rows.
    identity = {"study": NAME, "sweep": sweep.name, "data": sweep.data, "runs": str(runs)}
    journal = RunJournal(journal_path(out, NAME, sweep.name), identity, restart=restart)
    stems = {r.stem for r in recipes}
    launcher = Launcher(Commands(log), labelled=jobs > 1)
    scored, pending, todo = {}, [], []
    reported = {} if restart else reported_rows(out, sweep)
    for recipe in recipes:
        run, cfg = runs / recipe.stem, _recipe(recipe)
        done = finished(run, cfg)
        scored[recipe.stem] = journal.get({"recipe": recipe.stem})
        if scored[recipe.stem] is None and not run.exists():
            scored[recipe.stem] = _kept(reported.get(recipe.stem), cfg, log)
        if scored[recipe.stem] is None and done:
            scored[recipe.stem] = _unchanged(reported.get(recipe.stem), run, log)
        if scored[recipe.stem] is None and train is not None and recipe.stem not in train and not done:
            pending.append({"recipe": recipe.stem, "model": cfg.get("model"), "progress": progress(run, cfg)})
            log(f"{recipe.stem}: {pending[-1]['progress']}, not scored")
        elif scored[recipe.stem] is None:
            todo.append(recipe)

    def work(recipe: Path) -> tuple[dict, float]:
        start = time.perf_counter()
        _train(recipe, _recipe(recipe), runs / recipe.stem, runs, stems, sweep, launcher, log)
        return score_run(recipe, runs / recipe.stem, sweep, launcher, log), time.perf_counter() - start

    def teacher_of(recipe: Path) -> set[Path]:
        teacher = _recipe(recipe).get("teacher")
        return {r for r in recipes if teacher and r.stem == Path(str(teacher)).name}

    def share(running: list[Path]) -> None:
        launcher.share([r.stem for r in running])

    with closing(run_jobs(todo, work, jobs, teacher_of, launcher.commands, share)) as done:  # closed: others stop
        for recipe, (row, seconds) in done:
            journal.add({"recipe": recipe.stem}, row, seconds)
            scored[recipe.stem] = row
    rows = [scored[r.stem] for r in recipes if scored[r.stem] is not None]
    for row in rows:
        log(f"{row['recipe']}: hold-out {100 * row['holdout_top1']:.2f}%, test {100 * row['test_top1']:.2f}%, "
            f"{row['cpu_hours']:.2f} CPU-hours")  # fmt: skip
    mark_chosen(rows, pending)
    ship(rows, runs, weights, sweep, launcher, log, release)
    doc = {
        "schema": "visionmlp.fashion-mnist/1",
        "sweep": sweep.name,
        "data": sweep.data,
        "command": command,
        "machine": {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu_summary()},
        "targets": judge(rows),
        "rows": rows,
        "pending": pending,
    }
    atomic_write_text(out / f"{NAME}.json", json.dumps(doc, indent=1) + "\n")
    write_report(doc, out)
    if not pending:
        journal.finish()
    return doc


def render_table(out: Path) -> dict:
    """Rewrite ``fashion-mnist.md`` and ``.png`` from the saved JSON (no training)."""
    path = out / f"{NAME}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no {path} to render; run `visionmlp experiment {NAME}` first")
    doc = json.loads(path.read_text(encoding="utf-8"))
    write_report(doc, out)
    return doc


def reported_rows(out: Path, sweep: Sweep) -> dict[str, dict]:
    """The rows of the report already in ``out`` by recipe, when this sweep wrote it. The run folders and the
    journal live outside version control, so a new checkout (a later session, another machine) has neither; the
    committed report is then the record of what finished, and its rows stand instead of training again."""
    path = out / f"{NAME}.json"
    doc = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if (doc.get("sweep"), doc.get("data")) != (sweep.name, sweep.data):
        return {}
    # Rows scored before they named their CPU were trained on the machine that scored them, the report's.
    machine = doc.get("machine", {}).get("cpu")
    # Rows scored before the hold-out chose between the EMA and the raw weights were the EMA (every recipe keeps
    # one), and their raw weights' score was not kept.
    return {r["recipe"]: {"cpus": [machine] if machine else [], "final_weights": "ema", "holdout_top1_of": {}, **r}
            for r in doc.get("rows", ())}  # fmt: skip


def _kept(row: dict | None, cfg: dict, log) -> dict | None:
    """The report's row of a recipe whose run folder is gone, if the recipe still asks for that model and those
    epochs (an edited recipe trains again)."""
    if row is None:
        return None
    if (row["model"], row["epochs"]) != (cfg.get("model"), cfg.get("epochs")):
        log(f"{row['recipe']}: the report's row ({row['model']}, {row['epochs']} epochs) is not what its recipe asks "
            "for now, so it trains again")  # fmt: skip
        return None
    log(f"{row['recipe']}: kept from the report (its run folder is not here)")
    return row


def _unchanged(row: dict | None, run: Path, log) -> dict | None:
    """The report's row of a finished run folder that has not changed since the row was scored from it: scoring it
    again would measure the same weights on the same images (``validate`` is deterministic) and hold up the
    sweep's training beside it. A row scored before rows kept the hash is scored again, once."""
    if row is None or row.get("summary_sha256") != fingerprint(run):
        return None
    log(f"{row['recipe']}: finished in {run}, unchanged since the report scored it")
    return row


def fingerprint(run: Path) -> str:
    """The sha256 of a run folder's ``summary.csv``: every epoch's scores and timings, so a run trained further,
    or trained again to the same epochs, has another."""
    return hashlib.sha256((run / "summary.csv").read_bytes()).hexdigest()


def _recipe(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _train(recipe: Path, cfg: dict, run: Path, runs: Path, stems: set[str], sweep: Sweep, launcher: Launcher,
           log) -> None:  # fmt: skip
    if finished(run, cfg):
        log(f"{recipe.stem}: finished in {run}, not trained again")
        return
    if (run / "last.pth").is_file():
        args = ["train", "--resume", str(run), "--no-progress"]
        log(f"{recipe.stem}: resuming {run}")
    else:
        args = ["train", "-c", str(recipe), "--output", str(run), "--no-progress", *sweep.train_flags]
        args += ["--data", sweep.data] if sweep.data else []
        teacher = cfg.get("teacher")
        if teacher and Path(teacher).name in stems:  # the teacher is this sweep's own run of that recipe
            args += ["--teacher", str(runs / Path(teacher).name)]
        log(f"{recipe.stem}: training into {run}")
    while not launcher.train(recipe.stem, args):  # stopped to take more cores: it resumes with them
        if finished(run, cfg):
            return
        if (run / "last.pth").is_file():  # else it stopped before its first checkpoint and starts again as it did
            args = ["train", "--resume", str(run), "--no-progress"]
        log(f"{recipe.stem}: again in {run} with {launcher.threads} threads")


def _epochs_done(run: Path) -> list[dict]:
    """The rows of the run folder's ``summary.csv``, one per finished epoch (none before the first)."""
    summary = run / "summary.csv"
    if not summary.is_file():
        return []
    with summary.open(newline="") as f:
        return list(csv.DictReader(f))


def finished(run: Path, cfg: dict) -> bool:
    """Whether the run folder's ``summary.csv`` reaches the epochs its own config asked for."""
    saved, done = run / "config.yaml", _epochs_done(run)
    if not (done and saved.is_file()):
        return False
    want = (yaml.safe_load(saved.read_text()) or {}).get("epochs", cfg.get("epochs"))
    return int(done[-1]["epoch"]) >= int(want)


def progress(run: Path, cfg: dict) -> str:
    """How far an unfinished run is: ``epoch 5 of 40``, ``in epoch 1 of 40`` (stopped with a checkpoint before its
    first epoch ended, so it resumes there) or ``not started``."""
    done = _epochs_done(run)
    if done:
        return f"epoch {done[-1]['epoch']} of {cfg.get('epochs')}"
    return f"in epoch 1 of {cfg.get('epochs')}" if (run / "last.pth").is_file() else "not started"


def score_run(recipe: Path, run: Path, sweep: Sweep, launcher: Launcher, log) -> dict:
    """The row of a finished run: its test top-1 measured now by ``visionmlp validate``, its hold-out top-1,
    cost and time profile read off the run folder."""
    cfg = _recipe(run / "config.yaml")
    summary = _epochs_done(run)
    last = summary[-1]
    holdout = holdout_scores(last)
    kept = final_weights(cfg, holdout)
    validate = ["validate", str(run), "--split", "test", *_ema_flag(kept)]
    if sweep.test_images:
        validate += ["--limit", str(sweep.test_images)]
    if sweep.data:
        validate += ["--data", sweep.data]
    log(f"{recipe.stem}: scoring on the test set")
    launcher.step(recipe.stem, validate, quiet=True)
    test_top1 = json.loads((run / "validation.json").read_text())["top1"]
    name, family = cfg["model"], get_entry(cfg["model"]).family
    with torch.device("meta"):
        model = build_model(name, in_chans=1, num_classes=10, **(cfg.get("model_kwargs") or {}))
    phases = {p: sum(float(r[p]) for r in summary) for p in PHASES}
    shares = [sum(float(r[p]) for p in OVERHEAD) / max(sum(float(r[p]) for p in PHASES), 1e-9) for r in summary]
    teacher = _teacher_model(cfg)
    wall = float(last["elapsed_s"])
    ends = [float(r["elapsed_s"]) for r in summary]
    epoch_seconds = [b - a for a, b in zip([0.0, *ends], ends, strict=False)]
    # Runs logged before the column had the machine's threads; an epoch that spans a resume with other threads
    # counts at the threads it ended with.
    threads = [int(r.get("threads") or torch.get_num_threads()) for r in summary]
    cpu_seconds = [s * t for s, t in zip(epoch_seconds, threads, strict=True)]
    cpus = sorted({r.get("cpu") or cpu_summary() for r in summary})  # likewise: the sweep scores where it trained
    return {
        "recipe": recipe.stem,
        "model": name,
        "family": family,
        "all_mlp": is_all_mlp(model, family),
        "teacher": teacher,
        "params": sum(p.numel() for p in model.parameters()),
        "macs": round(model_cost(model, (1, 1, 28, 28)).macs_per_image),
        "epochs": int(last["epoch"]),
        "wall_hours": wall / 3600,
        "threads": sorted(set(threads)),
        "cpus": cpus,
        "cpu_hours": sum(cpu_seconds) / 3600,
        "median_cpu_hours": at_median_epoch(cpu_seconds, threads) / 3600,
        "final_weights": kept,
        "holdout_top1": holdout[kept],
        "holdout_top1_of": holdout,
        "test_top1": test_top1,
        "overhead_share": statistics.median(shares),
        "phases_s": {p.removesuffix("_s"): round(v, 1) for p, v in phases.items()},
        "command": f"visionmlp train -c {shlex.quote(_shown(recipe))} --output {shlex.quote(str(run))}",
        "validate": "visionmlp " + shlex.join(validate),
        "curve": [float(r[SCORES[kept]]) for r in summary],
        "summary_sha256": fingerprint(run),
    }


def at_median_epoch(cpu_seconds: list[float], threads: list[int], fewest: int = 3) -> float:
    """A run's CPU-seconds with every epoch priced at the median epoch of those that ran on as many threads: a
    paused or shared epoch does not move it, and a run that changed threads (two at once, then alone on both
    cores) is priced in each part at that part's rate, where one median would price it all at the larger part's.
    A part of fewer than ``fewest`` epochs has no median that one paused epoch cannot move, and threads change at a
    resume, where a session's pauses fall, so such a part is priced at the median epoch of the whole run."""
    parts: dict[int, list[float]] = {}
    for seconds, count in zip(cpu_seconds, threads, strict=True):
        parts.setdefault(count, []).append(seconds)
    whole = statistics.median(cpu_seconds)
    return sum((statistics.median(part) if len(part) >= fewest else whole) * len(part) for part in parts.values())


def holdout_scores(last: dict) -> dict[str, float]:
    """The hold-out top-1 of each kind of weights (``ema``, ``raw``) at a run's last epoch, read once from its row
    of ``summary.csv`` (``last``); a run without an EMA logs its ``ema_top1`` empty, so it has ``raw`` alone."""
    return {weights: float(last[column]) for weights, column in SCORES.items() if last.get(column)}


def final_weights(cfg: dict, holdout: dict[str, float]) -> str:
    """Which of a finished run's weights are its final model: ``ema`` or ``raw``, whichever scores higher on the
    hold-out at the last epoch (``holdout``, from :func:`holdout_scores`), the EMA on a tie; ``raw`` where the
    recipe keeps no EMA. Why not the EMA always: at decay 0.9995 it averages the last 2,000 steps, some five epochs
    of these runs, and at 26 to 100 epochs the weights still move in those (on EAMLP's 26 the EMA trailed the raw
    weights by 0.47 points). The hold-out decides, as it decides every other choice of a recipe."""
    if not cfg.get("ema") or "ema" not in holdout:
        return "raw"
    return "ema" if holdout["ema"] >= holdout["raw"] else "raw"


def _ema_flag(kept: str) -> list[str]:
    """``--ema`` where the final model is the EMA weights (validated and released so)."""
    return ["--ema"] if kept == "ema" else []


def _shown(recipe: Path) -> str:
    """A shipped recipe as ``visionmlp train -c`` finds it (``configs/...``), any other as given."""
    shipped = RECIPES.parent.parent
    return (
        str(Path("configs") / recipe.relative_to(shipped / "configs"))
        if recipe.is_relative_to(shipped)
        else str(recipe)
    )


def _teacher_model(cfg: dict) -> str | None:
    """The registered model the run distilled from (read off the teacher's run folder), or None."""
    teacher = cfg.get("teacher")
    if not teacher:
        return None
    saved = Path(teacher) / "config.yaml"
    return yaml.safe_load(saved.read_text())["model"] if saved.is_file() else str(teacher)


def holdout_choice(rows: list[dict]) -> dict[str, dict]:
    """Each model's row with the best hold-out top-1 (the first of a tie)."""
    best: dict[str, dict] = {}
    for row in rows:
        if row["model"] not in best or row["holdout_top1"] > best[row["model"]]["holdout_top1"]:
            best[row["model"]] = row
    return best


def best_untaught(rows: list[dict]) -> dict | None:
    """The best all-MLP model trained without a teacher, beside the targets (which may be met by a distilled row):
    each model counts with the arm the hold-out chooses among its untaught ones, and the test top-1 ranks the
    models, as the targets rank them."""
    own = holdout_choice([r for r in rows if r["all_mlp"] and not r["teacher"]])
    return max(own.values(), key=lambda r: r["test_top1"], default=None)


def mark_chosen(rows: list[dict], pending: list[dict]) -> None:
    """Set each row's ``chosen``: whether it is its model's arm with the best hold-out top-1 among the finished
    ones, and ``final``: whether none of that model's arms is still training (only then may its weights ship)."""
    best = holdout_choice(rows)
    training = {p.get("model") for p in pending}
    for row in rows:
        row["chosen"] = best[row["model"]] is row
        row["final"] = row["chosen"] and row["model"] not in training


def ship(rows: list[dict], runs: Path, weights: Path, sweep: Sweep, launcher: Launcher, log, release: bool) -> None:
    """Set each row's ``weights``: the shipped file that came from its run, if any, after releasing every chosen
    arm whose file is missing or stale when ``release``. All releases happen before any row reads the folder,
    because a release replaces the file an arm listed earlier shipped when the hold-out still chose it."""
    if release:
        for row in rows:
            if row["chosen"] and _released(row, weights) is None:
                _release(row, runs, weights, sweep, launcher, log)
    for row in rows:
        row["weights"] = _released(row, weights)


def _released(row: dict, weights: Path) -> str | None:
    """The shipped weights file of the row's model when it came from the row's run (its header's training output
    is that run folder), holds the row's final weights (EMA or raw) and the top-1 its header records (in %, two
    decimals) is the row's within 0.05 points."""
    path = weights / f"{row['model']}.safetensors"
    if not path.is_file():
        return None
    with safe_open(str(path), "pt") as f:
        header = f.metadata() or {}
    source = json.loads(header.get("training", "{}")).get("output")
    recorded = float(header.get("top1", "nan"))
    kind = header.get("weights", "ema")  # files released before the header named them were EMA weights
    if (source is None or Path(source).name != row["recipe"] or kind != row["final_weights"]
            or abs(recorded - 100 * row["test_top1"]) > 0.05):  # fmt: skip
        return None
    return f"weights/{weights.name}/{path.name}"


def _release(row: dict, runs: Path, weights: Path, sweep: Sweep, launcher: Launcher, log) -> None:
    """``visionmlp export release`` of a chosen arm whose arms have all finished: its final weights (EMA or raw, as
    the hold-out chose) rounded to float16 and scored again as rounded, on the images the row was scored on."""
    if not row["final"]:
        log(f"{row['recipe']}: not released yet, another arm of {row['model']} is still training")
        return
    run = runs / row["recipe"]
    if not run.is_dir():
        log(f"{row['recipe']}: cannot release {row['model']}: its run folder {run} is gone (the row was kept from "
            f"the report); restore {weights / row['model']}.safetensors from version control, or `mkdir {run}` "
            "and the sweep trains the recipe again")  # fmt: skip
        return
    args = ["export", "release", "--checkpoint", str(run), *_ema_flag(row["final_weights"]),
            "--out", str(weights / f"{row['model']}.safetensors")]  # fmt: skip
    args += ["--limit", str(sweep.test_images)] if sweep.test_images else []
    log(f"{row['recipe']}: releasing {row['model']} (the hold-out's choice) to {weights}")
    launcher.step(row["recipe"], args)


def judge(rows: list[dict], families: set[str] | None = None) -> list[dict]:
    """Each target with its measured value and whether it is met, on each model's arm chosen on the hold-out;
    "every family" needs a row of each of ``families`` (default: every family with a small variant) as well as its
    lowest row above the line."""
    families = {get_entry(n).family for n in list_models("*_28")} if families is None else families
    rows = [r for r in rows if r.get("chosen", True)]  # the hold-out's arm of each model; the test selects nothing
    lowest = min(rows, key=lambda r: r["test_top1"], default=None)
    mlp = [r for r in rows if r["all_mlp"]]
    measured = (
        lowest,
        max(mlp, key=lambda r: r["test_top1"], default=None),
        max(rows, key=lambda r: r["test_top1"], default=None),
    )
    complete = (families <= {r["family"] for r in rows}, True, True)
    return [
        {"target": t.label, "top1": t.top1, "anchor": t.anchor, "model": r and r["model"],
         "measured": r and r["test_top1"], "met": bool(r and r["test_top1"] >= t.top1 and whole)}
        for t, r, whole in zip(TARGETS, measured, complete, strict=True)
    ]  # fmt: skip


def write_report(doc: dict, out: Path) -> None:
    _plot(doc["rows"], out / f"{NAME}.png")
    md = out / f"{NAME}.md"
    notes = md.read_text(encoding="utf-8").partition(NOTES_MARKER)[2] if md.exists() else ""
    atomic_write_text(md, markdown(doc) + "\n" + NOTES_MARKER + (notes or "\n"))


def _final_cell(row: dict) -> str:
    """``raw (EMA 91.13%)``: the final weights, beside the hold-out top-1 of the ones the hold-out passed over
    (``raw not scored`` on a row scored before the choice, ``no EMA`` on a recipe without one)."""
    kept, names = row["final_weights"], {"ema": "EMA", "raw": "raw"}
    other = "raw" if kept == "ema" else "ema"
    score = row["holdout_top1_of"].get(other)
    if score is not None:
        return f"{names[kept]} ({names[other]} {100 * score:.2f}%)"
    return f"{names[kept]} ({'raw not scored' if kept == 'ema' else 'no EMA'})"


def _weights_cell(row: dict, chosen: dict[str, str]) -> str:
    if row["weights"]:
        return f"`{row['weights']}`"
    if not row["chosen"]:
        return f"not released: the hold-out chose `{chosen[row['model']]}`"
    return "not released yet" if row["final"] else "not released: another arm is training"


def markdown(doc: dict) -> str:
    rows = sorted(doc["rows"], key=lambda r: -r["test_top1"])
    chosen = {r["model"]: r["recipe"] for r in rows if r["chosen"]}
    table = "\n".join(
        f"| {r['model']} | {r['family']} | {'yes' if r['all_mlp'] else 'no'} | "
        f"{'distilled from ' + r['teacher'] if r['teacher'] else 'none'} | {r['params'] / 1e6:.2f} M | "
        f"{r['macs'] / 1e6:.0f} M | {r['epochs']} | {r['wall_hours']:.2f} | {r['cpu_hours']:.2f} | "
        f"{r['median_cpu_hours']:.2f}{' (over budget)' if r['median_cpu_hours'] > BUDGET_CPU_HOURS else ''} | "
        f"{'; '.join(short_cpu(c) for c in r.get('cpus', ()))} | "
        f"{100 * r['holdout_top1']:.2f}% | {_final_cell(r)} | "
        f"**{100 * r['test_top1']:.2f}%** | {100 * r['overhead_share']:.0f}% | "
        f"{_weights_cell(r, chosen)} | `{r['command']}` |"
        for r in rows
    )
    targets = "\n".join(
        f"- {t['target']} at least {100 * t['top1']:.1f}% ({t['anchor']}): "
        + (f"{100 * t['measured']:.2f}% ({t['model']}), **{'met' if t['met'] else 'not met'}**"
           if t["measured"] is not None else "no row yet")
        for t in doc["targets"]
    )  # fmt: skip
    missing = sorted({get_entry(n).family for n in list_models("*_28")} - {r["family"] for r in rows})
    own = best_untaught(rows)
    honest = (
        f"Best all-MLP model trained without a teacher: {own['model']} at {100 * own['test_top1']:.2f}% "
        f"(`{own['recipe']}`, the hold-out's choice among its untaught arms)."
        if own else "No all-MLP row trained without a teacher yet."
    )  # fmt: skip
    pending = "; ".join(f"`{p['recipe']}` ({p['progress']})" for p in doc.get("pending", ())) or "none"
    sweep = "" if doc["sweep"] == "full" else f"\n*Sweep `{doc['sweep']}`: a pipeline check, not results.*\n"
    return f"""# Fashion-MNIST: trained here, on the CPU
{sweep}
Generated by `{doc["command"]}`, which trains every recipe of `configs/fashion_mnist_long/` to its last epoch
(resuming an interrupted run, skipping a finished one) and scores its final model once on the 10,000 test images
with `visionmlp validate RUN --split test` (with `--ema` where that model is the EMA weights: of the last epoch's
EMA and raw weights, the one with the higher hold-out top-1; "final model" says which, beside the other's). Recipes
were chosen on 6,000 images held out of the 60,000 training images (`data: fashion-mnist:holdout`, fixed for every
run), never on the test set; no epoch is picked. CPU-hours are each epoch's wall time times the compute threads it
ran with (`threads` in the run's `summary.csv`: {doc["machine"]["threads"]}, all of this machine's cores, for a run
trained alone; fewer for runs trained side by side with `--jobs`), per-epoch hold-out evaluation included (a
distilled row includes its teacher's forward passes, not the teacher's training, which is its own row); time the
machine was shared or the run paused counts too, so the next column prices every epoch at the run's median epoch
(of those on as many threads where a run changed them; of all its epochs for a thread count it ran fewer than three
epochs on), what the run costs on a machine of its own (the budget is {BUDGET_CPU_HOURS:g} CPU-hours a row; one above
it is marked). CPUs differ in speed, so a row's CPU-hours hold on the
CPU it names (`cpu` in `summary.csv`; the runs before that column trained on the machine that scored them).
"Data+EMA+eval" is the share of an epoch's time outside the model's own forward, backward and optimizer step (the
trainer's phase clock in `summary.csv`; the median over epochs). Where a model has several recipes (arms: with and
without a teacher), the hold-out chooses one; the targets are judged on it, and its weights ship once no arm of that
model is training: `--release` runs `visionmlp export release --checkpoint RUN [--ema] --out
weights/fashion-mnist/MODEL.safetensors`, and `visionmlp validate MODEL.fashion_mnist --split test` reproduces its
test top-1. Machine-readable rows: `fashion-mnist.json`.

{HEADER}
{table}

![hold-out top-1 per epoch](fashion-mnist.png)

## Targets (published anchors on the same test set)

{targets}

{honest} Recipes still training (the same command resumes them where their run folders under `runs/long/`
survive, and trains them again where they do not): {pending}. Families without a row yet (the first target needs
every one): {", ".join(missing) if missing else "none"}.
"""


HEADER = (
    "| model | family | all-MLP | teacher | params | MACs/image | epochs | wall hours | CPU-hours | CPU-hours at the "
    "median epoch | CPU | hold-out top-1 | final model | test top-1 | data+EMA+eval | weights | command |\n"
    + "|---" * 17
    + "|"
)


def short_cpu(summary: str) -> str:
    """``Intel(R) Xeon(R) Processor (avx2, ...)`` as ``Intel Xeon (avx2, ...)``: the table cell of a row's CPU."""
    for mark in ("(R)", "(TM)", " Processor", " CPU"):
        summary = summary.replace(mark, "")
    return summary


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for r in rows:
        label = r["model"] + (f" (from {r['teacher']})" if r["teacher"] else "")
        ax.plot(range(1, len(r["curve"]) + 1), [100 * v for v in r["curve"]], label=label)
    ax.axhline(91.6, color="grey", linestyle=":", linewidth=1, label="2-layer CNN 91.6%")
    ax.set(xlabel="epoch", ylabel="hold-out top-1 (%)", title="Fashion-MNIST, 6,000 held-out training images",
           ylim=(80, 100))  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)

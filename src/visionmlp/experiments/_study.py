"""A study as data (claim, source, verdict rule, arms, how to run, judge and plot it) and the one function
that runs any of them and writes its three outputs: ``<name>.json`` (every run and the table),
``<name>.png`` and ``<name>.md`` (setup, verdict, table, plot, the exact command), then refreshes the
claims table ``README.md`` from whatever JSON files the folder holds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..utils.atomic import atomic_write_text
from ..utils.capabilities import capabilities
from ..utils.cpu import cpu_summary
from ._data import eval_set, train_set
from ._journal import RunJournal, journal_path, saved_runs
from ._runner import BUDGETS, Arm, Budget, Point, aggregate, check_matched, study_precision, train_arm

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
SCHEMA = "visionmlp.experiment/1"


def rule_of(doc: str) -> str:
    """The verdict rule a study module states in its docstring (the paragraph starting "Verdict rule: "),
    so that the rule the code applies is written once, next to the code."""
    return doc.split("Verdict rule: ", 1)[1].split("\n\n", 1)[0].replace("\n", " ")


@dataclass(frozen=True)
class Verdict:
    status: str  # HOLDS, FAILS or INCONCLUSIVE
    reason: str

    def __post_init__(self):
        if self.status not in (HOLDS, FAILS, INCONCLUSIVE):
            raise ValueError(f"unknown verdict {self.status!r}")


@dataclass(frozen=True)
class Context:
    """What a study's ``execute`` gets: the budget, seeds, data spec, a progress log and the journal that
    saves every finished run (:func:`run_arms` reuses the saved ones)."""

    budget: Budget
    seeds: tuple[int, ...]
    data: str
    log: Callable[[str], None]
    journal: RunJournal


def train_every_arm(ctx: Context, arms: list[Arm]) -> list[dict]:
    """Every arm trained on the training split from every seed and scored on the test split."""
    return run_arms(ctx, arms, train_set(ctx.data), eval_set(ctx.data, "val", ctx.budget.eval_images))


def top1_by_arm(runs: list[dict]) -> list[dict]:
    """One row per arm: its test top-1 over the seeds."""
    return aggregate(runs, ("arm",), ("test_top1",))


@dataclass(frozen=True)
class Study:
    """One claim turned into runs. ``execute`` returns one dict per (arm, condition, seed) — by default
    every arm trained and tested once per seed (:func:`train_every_arm`), for studies whose arms are the
    only variable; ``summarise`` folds the seeds into a table of :class:`Point` rows (by default one row per
    arm, :func:`top1_by_arm`); ``verdict`` applies ``rule`` to that table; ``plot`` draws it.
    ``matched=False`` exempts a study from the parameter check (its ``why_unmatched`` says why)."""

    name: str
    claim: str
    source: str
    rule: str
    setup: str
    arms: Callable[[], list[Arm]]
    verdict: Callable[[list[dict]], Verdict]
    plot: Callable[[list[dict], Path], None]
    execute: Callable[[Context], list[dict]] | None = None
    summarise: Callable[[list[dict]], list[dict]] = top1_by_arm
    matched: bool = True
    why_unmatched: str = ""
    plain_columns: tuple[str, ...] = ()  # table metrics that are not accuracies: printed as they are, not in %

    def param_counts(self) -> dict[str, int]:
        """The arms' parameter counts; raises ``ParamMismatchError`` for a matched study that is not."""
        params = {arm.label: arm.params() for arm in self.arms()}
        if self.matched:
            check_matched(params)
        return params


def run_study(study: Study, budget: Budget, out: Path, seeds: int | None, data: str, command: str,
              log: Callable[[str], None] = print, restart: bool = False) -> dict:  # fmt: skip
    """Run ``study`` and write its report into ``out``; returns the JSON document.

    Runs saved in ``out`` by an interrupted invocation of the same study, budget and data are reused (see
    :mod:`._journal`) unless ``restart``."""
    params = study.param_counts()  # before anything trains: a mismatched study fails at once
    n_seeds = budget.seeds if seeds is None else seeds
    if n_seeds < 2 and budget.name != "tiny":
        raise ValueError("a study needs at least 2 seeds: every point is a mean with its spread")
    out.mkdir(parents=True, exist_ok=True)
    identity = {"study": study.name, "budget": budget.__dict__, "data": data}
    journal = RunJournal(journal_path(out, study.name, budget.name), identity, restart=restart)
    if len(journal):
        log(f"resuming: {len(journal)} finished run(s) saved in {journal.path} are reused (--restart discards them)")
    ctx = Context(budget, tuple(range(n_seeds)), data, log, journal)
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    runs = study.execute(ctx) if study.execute else train_every_arm(ctx, study.arms())
    table = study.summarise(runs)
    verdict = study.verdict(table)
    doc = {
        "schema": SCHEMA,
        "study": study.name,
        "claim": study.claim,
        "source": study.source,
        "rule": study.rule,
        "verdict": {"status": verdict.status, "reason": verdict.reason},
        "budget": budget.__dict__,
        "seeds": list(ctx.seeds),
        "data": data,
        "params": params,
        "command": command,
        "seconds": round(time.perf_counter() - start + journal.reused_seconds, 1),
        "resumed_runs": journal.reused,
        "machine": {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": cpu_summary(),
            "cpu_kind": capabilities().kind,
            "precision": study_precision().name,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        },
        "table": [{k: v.to_dict() if isinstance(v, Point) else v for k, v in row.items()} for row in table],
        "runs": runs,
    }
    atomic_write_text(out / f"{study.name}.json", json.dumps(doc, indent=1) + "\n")
    _write_report(study, doc, table, out)
    journal.finish()
    return doc


def render_study(study: Study, out: Path) -> dict:
    """Rewrite ``<name>.md`` and ``<name>.png`` from the saved ``<name>.json`` (no training): for a change of
    the report's form; the runs, table and verdict are the saved ones."""
    path = out / f"{study.name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no {path} to render; run `visionmlp experiment {study.name}` first")
    doc = json.loads(path.read_text(encoding="utf-8"))
    point_keys = {"mean", "spread", "n"}
    table = [{k: Point(**v) if isinstance(v, dict) and set(v) == point_keys else v for k, v in row.items()}
             for row in doc["table"]]  # fmt: skip
    _write_report(study, doc, table, out)
    return doc


def _write_report(study: Study, doc: dict, table: list[dict], out: Path) -> None:
    study.plot(table, out / f"{study.name}.png")
    atomic_write_text(out / f"{study.name}.md", _markdown(study, doc, table))


def _markdown(study: Study, doc: dict, table: list[dict]) -> str:
    budget = doc["budget"]
    models = "\n".join(f"| {label} | {n:,} |" for label, n in doc["params"].items())
    matching = "matched within ±10% (checked before training)" if study.matched else study.why_unmatched
    load = doc["machine"].get("load_average")
    load = f" (1-minute load average {load[0]} at the start, {load[1]} at the end)" if load else ""
    resumed = doc.get("resumed_runs", 0)
    resumed = (
        f"; {resumed} of the runs came from an earlier, interrupted invocation, counted at their own time"
        if resumed
        else ""
    )
    # a study's setup is written for Fashion-MNIST; a run on other data names its own
    data = doc["data"]
    setup = study.setup if data == "fashion-mnist" else study.setup.replace("Fashion-MNIST", f"`{data}` data")
    # studies saved before amp auto trained in float32 (TrainConfig's default then) and did not record it
    software = f"torch {doc['machine']['torch']}, {doc['machine'].get('precision', 'float32')}"
    return f"""# {study.name}

**Claim** ({study.source}): {study.claim}

**Verdict: {doc["verdict"]["status"]}.** {doc["verdict"]["reason"]}
{_preliminary(budget["name"])}

Rule: {study.rule}

## Setup

{setup}

Data `{doc["data"]}`; budget `{budget["name"]}`: {budget["steps"]} AdamW steps of {budget["batch_size"]} images per
run (peak lr {budget["lr"]}, warm-up 10% then cosine), test accuracy on {budget["eval_images"] or "all"} test images;
seeds {", ".join(map(str, doc["seeds"]))}. Every cell is mean ± sample standard deviation over the seeds; accuracies
in %.

| model | parameters |
|---|---:|
{models}

Parameters: {matching}.

## Results

{_table(table, study.plain_columns)}

![{study.name}]({study.name}.png)

## Reproduce

```
{doc["command"]}
```

{doc["seconds"]:.0f} s on {doc["machine"]["threads"]} threads{load}, {software}{resumed}.
"""


def is_preliminary(budget: str) -> bool:
    """Whether a verdict at ``budget`` is below the one the claims are judged at (``full``)."""
    return budget != "full"


def _preliminary(budget: str) -> str:
    """The caveat a report below the ``full`` budget carries: its verdict is of short training, not the claim's."""
    if not is_preliminary(budget):
        return ""
    return (
        f"\n*Preliminary: budget `{budget}`, a fraction of the training the claim is about; the verdict "
        "stands only for this short schedule until the same command runs with `--budget full`.*"
    )


def _table(table: list[dict], plain_columns: tuple[str, ...] = ()) -> str:
    if not table:
        return "(no rows)"
    columns = list(table[0])

    def cell(column, value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        return value.plain() if column in plain_columns and isinstance(value, Point) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row[c]) for c in columns) + " |" for row in table]
    return "\n".join(lines)


def write_index(out: Path, studies: list[Study], base_command: str = "visionmlp experiment") -> Path:
    """``README.md`` in ``out``: one row per claim, with its verdict where ``<name>.json`` exists."""
    rows = []
    for study in studies:
        path = out / f"{study.name}.json"
        command = f"`{base_command} {study.name} --budget full`"
        if path.is_file():
            doc = json.loads(path.read_text(encoding="utf-8"))
            verdict = doc["verdict"]
            budget = doc["budget"]["name"]
            result = f"{verdict['reason']} ([report]({study.name}.md), budget {budget})"
            status = f"{verdict['status']} (preliminary)" if is_preliminary(budget) else verdict["status"]
        else:
            result, status = f"not yet run; {command}", "not yet run"
        for partial in sorted(out.glob(f"{study.name}.*.partial.jsonl")):
            result += (
                f"; {saved_runs(partial)} runs of an unfinished invocation saved in `{partial.name}`: rerun to resume"
            )
        rows.append(f"| {study.claim} | {study.source} | {result} | {status} |")
    small = BUDGETS["small"]
    text = f"""# Results: the papers' claims, re-run

Each row is a study of `visionmlp experiment` (`src/visionmlp/experiments/`); its report `<name>.md` gives the
setup, the table, the plot, the verdict rule and the exact command. Models within a study are matched in
parameters (±10%) and training budget; every point is the mean of at least 2 seeds with its spread.
The claims are judged at `--budget full`; a verdict marked *(preliminary)* comes from a smaller budget
(`small`: {small.steps} steps of {small.batch_size} images per run, {small.steps * small.batch_size:,} images in all)
and says only how the models compare after that much training. This table is rewritten by every
`visionmlp experiment` run.

| claim | source | our result | verdict |
|---|---|---|---|
{chr(10).join(rows)}
"""
    path = out / "README.md"
    atomic_write_text(path, text)
    return path


def run_arms(ctx: Context, arms: list[Arm], train_set, test_set, score=None, **condition) -> list[dict]:
    """Train every arm from every seed on ``train_set``; one row per run with ``condition``, the test top-1
    and what ``score(model)`` adds (a dict of further metrics of the trained model)."""
    runs = []
    where = " ".join(f"{k}={v}" for k, v in condition.items())
    for arm in arms:
        for seed in ctx.seeds:
            key = {"arm": arm.label, **condition, "seed": seed}
            row = ctx.journal.get(key)
            if row is not None:
                ctx.log(f"  {arm.label} {where} seed {seed}: test top-1 {100 * row['test_top1']:.2f}% (saved)")
                runs.append(row)
                continue
            start = time.perf_counter()
            trained = train_arm(arm, train_set, test_set, ctx.budget, seed)
            row = {**key, "test_top1": trained.test_top1, "train_seconds": round(trained.seconds, 2)}
            if score is not None:
                row.update(score(trained.model))
            ctx.journal.add(key, row, time.perf_counter() - start)
            ctx.log(f"  {arm.label} {where} seed {seed}: test top-1 {100 * trained.test_top1:.2f}% "
                    f"({trained.seconds:.0f} s)")  # fmt: skip
            runs.append(row)
    return runs

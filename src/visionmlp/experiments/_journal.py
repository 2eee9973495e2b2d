"""A study's finished runs saved one by one, so that a long study survives an interruption.

A full-budget study is hours of CPU training (data-scale: 45 runs of about 4 minutes each). Losing all of it
to a closed laptop, a pre-empted job or a session that ends would make the full budget unaffordable, so every
run is appended to ``<name>.<budget>.partial.jsonl`` in the report folder the moment it finishes (flushed
and fsynced). Running the same command again reuses the saved runs and trains only the missing ones; once the
report is written the journal is deleted. The first line names what the runs are of (study, budget, data);
a journal written for anything else is refused rather than mixed in, with the fix in the error.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from ..utils.atomic import atomic_write_text

SCHEMA = "visionmlp.experiment-journal/1"


class JournalMismatchError(ValueError):
    """The journal in the report folder was written by a different study, budget or data."""


def journal_path(out: Path, study: str, budget: str) -> Path:
    return out / f"{study}.{budget}.partial.jsonl"


def saved_runs(path: Path) -> int:
    """How many runs the journal at ``path`` holds (for the claims table; no identity check)."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return sum(1 for line in lines if _is_run(_parse(line)))


class RunJournal:
    """The runs of one (study, budget, data), keyed by what identifies a run: arm, condition and seed."""

    def __init__(self, path: Path, identity: dict, *, restart: bool = False):
        self.path = path
        self.identity = {"schema": SCHEMA, **identity}
        self.reused = 0
        self.reused_seconds = 0.0  # what the reused runs cost when they ran
        self._runs: dict[str, dict] = {}
        if restart:
            path.unlink(missing_ok=True)
        if path.is_file():
            self._load()
        else:
            self._append(self.identity)

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, key: dict) -> dict | None:
        """The saved row of the run ``key`` (counted as reused), or None when it has not run yet."""
        record = self._runs.get(_key(key))
        if record is None:
            return None
        self.reused += 1
        self.reused_seconds += record["seconds"]
        return record["row"]

    def add(self, key: dict, row: dict, seconds: float) -> None:
        """Save a finished run that took ``seconds`` (training and scoring); it is on disk when this returns."""
        record = {"key": key, "row": row, "seconds": round(seconds, 2)}
        self._runs[_key(key)] = record
        self._append(record)

    def finish(self) -> None:
        """The study's report is written: its runs live in ``<name>.json`` now."""
        self.path.unlink(missing_ok=True)

    def _load(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        header = _parse(lines[0]) if lines else None
        if header != self.identity:
            raise JournalMismatchError(
                f"{self.path} holds runs made with other settings ({_difference(header, self.identity)}); rerun "
                "with the settings it was written for to resume it, or pass --restart to discard it"
            )
        broken = 0
        for line in lines[1:]:
            record = _parse(line)
            if not _is_run(record):
                broken += 1  # a line cut short by the interruption itself
                continue
            self._runs[_key(record["key"])] = record
        if broken:  # rewritten without them, or the next run's line would be glued to a cut one
            records = [self.identity, *self._runs.values()]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in records))
            warnings.warn(
                f"{self.path}: dropped {broken} unreadable line(s); those runs will train again", stacklevel=3
            )

    def _append(self, record: dict) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")  # a row keeps its column order
            f.flush()
            os.fsync(f.fileno())


def _key(key: dict) -> str:
    return json.dumps(key, sort_keys=True)


def _is_run(record: dict | None) -> bool:
    return record is not None and {"key", "row", "seconds"} <= record.keys()


def _parse(line: str) -> dict | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _difference(saved: dict | None, wanted: dict) -> str:
    """The settings a journal's header records that this invocation does not have: ``saved``'s value, then its."""
    if not saved or "study" not in saved:
        return "its header is unreadable"
    keys = sorted(k for k in saved.keys() | wanted.keys() if saved.get(k) != wanted.get(k))
    return "; ".join(f"{k}: saved {saved.get(k)!r}, now {wanted.get(k)!r}" for k in keys)

"""An interrupted study resumes: finished runs are saved one by one and reused, only the missing ones train,
and the result equals an uninterrupted run's; a journal of another study, budget or data is refused."""

from __future__ import annotations

import json

import pytest

from visionmlp.cli import main
from visionmlp.experiments import BUDGETS, STUDIES, _study, run_study, write_index
from visionmlp.experiments._journal import JournalMismatchError, RunJournal, journal_path

STUDY = STUDIES["permutation"]  # 2 arms x 2 data conditions: 4 runs per seed
TRAIN_ARM = _study.train_arm
IDENTITY = {"study": "s", "budget": {"name": "tiny", "steps": 1}, "data": "synthetic"}


class Interrupted(Exception):
    """Stands for the kill, pre-emption or closed laptop that stops a long study."""


def _run(out, **kwargs):
    return run_study(STUDY, BUDGETS["tiny"], out, 1, "synthetic", "cmd", log=lambda _m: None, **kwargs)


def _counting_train_arm(monkeypatch, fail_after=None):
    """Count the runs that train; raise (an interruption) when ``fail_after`` runs have trained."""
    calls = []

    def train_arm(*args, **kwargs):
        if fail_after is not None and len(calls) == fail_after:
            raise Interrupted
        calls.append(args[0].label)
        return TRAIN_ARM(*args, **kwargs)

    monkeypatch.setattr(_study, "train_arm", train_arm)
    return calls


def test_interrupted_study_resumes_with_only_the_missing_runs(tmp_path, monkeypatch):
    fresh = _run(tmp_path / "fresh")
    out = tmp_path / "resumed"
    with pytest.raises(Interrupted):
        _counting_train_arm(monkeypatch, fail_after=3)
        _run(out)
    journal = journal_path(out, STUDY.name, "tiny")
    assert len(journal.read_text().splitlines()) == 1 + 3 and not (out / f"{STUDY.name}.json").exists()
    index = write_index(out, [STUDY]).read_text()
    assert f"3 runs of an unfinished invocation saved in `{journal.name}`" in index

    calls = _counting_train_arm(monkeypatch)
    doc = _run(out)
    assert len(calls) == len(fresh["runs"]) - 3 and doc["resumed_runs"] == 3
    assert [r["test_top1"] for r in doc["runs"]] == [r["test_top1"] for r in fresh["runs"]]
    assert doc["table"] == fresh["table"] and doc["verdict"] == fresh["verdict"]
    assert not journal.exists()  # the runs live in the report's JSON now
    assert "3 of the runs came from an earlier, interrupted invocation" in (out / f"{STUDY.name}.md").read_text()


def test_restart_discards_saved_runs(tmp_path, monkeypatch):
    with pytest.raises(Interrupted):
        _counting_train_arm(monkeypatch, fail_after=2)
        _run(tmp_path)
    calls = _counting_train_arm(monkeypatch)
    doc = _run(tmp_path, restart=True)
    assert len(calls) == len(doc["runs"]) and doc["resumed_runs"] == 0


def test_journal_of_other_data_or_budget_is_refused_with_the_fix(tmp_path, capsys):
    path = journal_path(tmp_path, STUDY.name, "tiny")
    RunJournal(path, {"study": STUDY.name, "budget": BUDGETS["tiny"].__dict__, "data": "fashion-mnist"})
    with pytest.raises(JournalMismatchError, match="--restart to discard it"):
        _run(tmp_path)
    assert path.is_file()  # nothing saved is lost by the refusal
    changed = {**IDENTITY, "budget": {"name": "tiny", "steps": 2}}  # the budget's definition changed since
    RunJournal(tmp_path / "j.jsonl", IDENTITY)
    with pytest.raises(JournalMismatchError, match=r"budget: saved \{'name': 'tiny', 'steps': 1\}, now .*'steps': 2"):
        RunJournal(tmp_path / "j.jsonl", changed)
    # the CLI turns it into a one-line error
    assert main(["experiment", STUDY.name, "--budget", "tiny", "--seeds", "1", "--data", "synthetic",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "--restart" in capsys.readouterr().err


def test_a_line_cut_by_the_interruption_is_dropped_and_the_journal_stays_readable(tmp_path):
    path = tmp_path / "j.jsonl"
    journal = RunJournal(path, IDENTITY)
    journal.add({"arm": "a", "seed": 0}, {"arm": "a", "test_top1": 0.5}, seconds=3.0)
    with path.open("a") as f:
        f.write('{"key": {"arm": "b", "seed": 0}, "row": {"ar')  # killed mid-write: no newline
    with pytest.warns(UserWarning, match="dropped 1 unreadable line"):
        journal = RunJournal(path, IDENTITY)
    assert len(journal) == 1
    journal.add({"arm": "b", "seed": 0}, {"arm": "b", "test_top1": 0.25}, seconds=4.0)
    reopened = RunJournal(path, IDENTITY)
    assert reopened.get({"seed": 0, "arm": "b"}) == {"arm": "b", "test_top1": 0.25}  # key order does not matter
    assert reopened.get({"arm": "a", "seed": 1}) is None
    assert reopened.reused == 1 and reopened.reused_seconds == 4.0
    assert all(json.loads(line) for line in path.read_text().splitlines())

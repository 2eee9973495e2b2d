"""``experiments/_jobs.py``: a sweep's commands several at once, a student after its teacher, labelled output,
and one failure stopping the others (so each saves its run) before it is raised."""

import sys
import threading
import time
from contextlib import closing

import pytest

from visionmlp.experiments._jobs import Commands, run_jobs, threads_per_job


def test_at_most_jobs_at_once_and_each_after_what_it_waits_for():
    events, lock, running, most = [], threading.Lock(), [0], [0]

    def work(item):
        with lock:
            events.append(("start", item))
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
            events.append(("end", item))
        return item.upper()

    after = {"student": {"teacher"}, "teacher": set(), "a": set(), "b": {"gone"}}  # "gone": not in this sweep
    results = dict(run_jobs(["teacher", "student", "a", "b"], work, 2, after.__getitem__, Commands()))
    assert results == {"teacher": "TEACHER", "student": "STUDENT", "a": "A", "b": "B"}
    assert most[0] == 2
    assert events.index(("start", "student")) > events.index(("end", "teacher"))
    assert set(events[:2]) == {("start", "teacher"), ("start", "a")}  # the student waits; the next free one starts


def test_one_failure_stops_the_running_commands_and_is_raised():
    commands, codes = Commands(log=lambda line: None), {}

    def work(item):
        if item == "fails":
            time.sleep(0.5)  # the other command is running by then
            raise RuntimeError("fails stopped")
        codes[item] = commands.run([sys.executable, "-c", "import time; time.sleep(60)"])
        return codes[item]

    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="fails stopped"):
        list(run_jobs(["sleeps", "fails", "never"], work, 2, lambda item: set(), commands))
    assert time.perf_counter() - start < 30 and codes == {"sleeps": -15}  # terminated, not waited for
    assert commands.run([sys.executable, "-c", "pass"]) == -15  # and no command starts after the stop


def test_a_caller_that_stops_reading_stops_the_running_commands():
    """What a SIGTERM to the sweep does: its handler raises in the loop reading the results, which closes them."""
    commands, codes = Commands(log=lambda line: None), {}

    def work(item):
        codes[item] = 0 if item == "quick" else commands.run([sys.executable, "-c", "import time; time.sleep(60)"])
        return codes[item]

    start = time.perf_counter()
    with (
        pytest.raises(KeyboardInterrupt),
        closing(run_jobs(["quick", "sleeps"], work, 2, lambda i: set(), commands)) as done,
    ):
        for _ in done:  # "quick" has finished, "sleeps" is running
            raise KeyboardInterrupt
    assert time.perf_counter() - start < 30 and codes == {"quick": 0, "sleeps": -15}


def test_labelled_output_names_its_command_line_by_line():
    lines = []
    script = "import sys; print('epoch 1'); print('oops', file=sys.stderr); sys.exit(3)"
    assert Commands(log=lines.append).run([sys.executable, "-c", script], label="gmlp") == 3
    assert lines == ["[gmlp] epoch 1", "[gmlp] oops"]


def test_the_cores_are_shared_evenly(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2})
    assert [threads_per_job(j) for j in (1, 2, 3)] == [3, 1, 1]

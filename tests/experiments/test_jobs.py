"""``experiments/_jobs.py``: a sweep's commands several at once, a student after its teacher, labelled output,
and one failure stopping the others (so each saves its run) before it is raised."""

import sys
import threading
import time
from contextlib import closing

import pytest

from visionmlp.experiments import _jobs
from visionmlp.experiments._jobs import Commands, Launcher, SweepStopped, run_jobs


def test_at_most_jobs_at_once_and_each_after_what_it_waits_for():
    events, lock, running, most = [], threading.Lock(), [0], [0]

    def work(item):
        with lock:
            events.append(("start", item))
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.3 if item == "b" else 0.05)  # b ends alone: two that ended together would share nothing
        with lock:
            running[0] -= 1
            events.append(("end", item))
        return item.upper()

    after = {"student": {"teacher"}, "teacher": set(), "a": set(), "b": {"gone"}}  # "gone": not in this sweep
    shares = []
    results = dict(run_jobs(["teacher", "student", "a", "b"], work, 2, after.__getitem__, Commands(), shares.append))
    assert results == {"teacher": "TEACHER", "student": "STUDENT", "a": "A", "b": "B"}
    assert shares[0] == ["teacher", "a"] and len(shares[-1]) == 1  # the last one left alone gets every core
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


# A stand-in for `visionmlp train`: logs its arguments, fails on --fail, returns at once when resumed, and otherwise
# trains until SIGTERM, which it answers as the trainer does (it saves, then exits 130).
FAKE_TRAIN = """
import signal, sys, time
open(sys.argv[1], "a").write(" ".join(sys.argv[2:]) + "\\n")
if "--fail" in sys.argv:
    sys.exit(3)
if "--resume" not in sys.argv:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    time.sleep(60)
"""


def test_the_cores_are_shared_and_a_run_left_alone_resumes_with_the_freed_ones(tmp_path, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    calls, script = tmp_path / "calls.txt", tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    monkeypatch.setattr(_jobs, "visionmlp", lambda *args: [sys.executable, str(script), str(calls), *args])
    launcher, result = Launcher(Commands(log=lambda line: None), labelled=True), {}
    launcher.share(["a", "b", "c"])  # a new run's share: 4 cores // 3
    assert launcher.threads == 1
    worker = threading.Thread(target=lambda: result.update(a=launcher.train("a", ["train", "-c", "a.yaml"])))
    worker.start()
    while not calls.exists():
        time.sleep(0.05)
    launcher.share(["a", "b"])  # c finished: a and b get 2 threads each, so a (training) stops to take them
    worker.join(30)
    assert result == {"a": False} and launcher.threads == 2
    assert launcher.train("a", ["train", "--resume", "runs/a"]) is True
    launcher.share(["a", "b", "c"])  # fewer threads for new runs: nothing running is stopped
    with pytest.raises(SweepStopped, match=r"a: `visionmlp train` stopped with exit status 3"):
        launcher.train("a", ["train", "--fail"])
    assert calls.read_text().splitlines() == [
        "train -c a.yaml --threads 1",
        "train --resume runs/a --threads 2",
        "train --fail --threads 1",
    ]

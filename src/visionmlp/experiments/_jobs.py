"""Several of a sweep's commands at once: ``visionmlp experiment fashion-mnist --jobs N``.

Why: the ``_s4_28`` models run small GEMMs that two threads share poorly, so on the 2-core machine two runs of one
thread each train 1.07-1.59x more images a second in all than one run of two threads, by model
(``benchmarks/bench_jobs.py``; the speed work log in ``docs/results/performance.md``). Each command stays the row's
own command, run as a child process; this module only decides when each starts, labels its output, and stops the
others when one stops, so every run saves its checkpoint and the same sweep command resumes all of them.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait


def threads_per_job(jobs: int) -> int:
    """The compute threads each of ``jobs`` concurrent runs gets: the cores this process may use, shared evenly."""
    return max(1, len(os.sched_getaffinity(0)) // jobs)


class Commands:
    """The sweep's running child processes. ``run`` starts one (its output labelled when several run at once);
    ``stop`` sends every running one SIGTERM, which a training run answers by saving its checkpoint, and refuses
    to start more."""

    def __init__(self, log: Callable[[str], None] = print):
        self.log = log
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def run(self, argv: Sequence[str], label: str | None = None, quiet: bool = False) -> int:
        """Run ``argv`` to its end; its exit status. ``label``: prefix every output line with it (stdout and
        stderr together, line by line). ``quiet``: discard stdout."""
        piped = label is not None and not quiet
        with self._lock:
            if self._stopped:
                return -15  # as if SIGTERM had stopped it: another command of the sweep failed
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.DEVNULL if quiet else subprocess.PIPE if piped else None,
                stderr=subprocess.STDOUT if piped else None,
                text=True,
                errors="replace",
            )
            self._running.add(proc)
        try:
            if piped:
                for line in proc.stdout:
                    self.log(f"[{label}] {line.rstrip()}")
            return proc.wait()
        finally:
            with self._lock:
                self._running.discard(proc)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for proc in self._running:
                proc.terminate()


def run_jobs(
    items: Sequence[Hashable],
    work: Callable,
    jobs: int,
    after: Callable[[Hashable], set],
    commands: Commands,
) -> Iterator[tuple[Hashable, object]]:
    """``work(item)`` for every item, up to ``jobs`` at once, each started once the items ``after(item)`` names
    (among ``items``) have finished, in the given order otherwise; yields ``(item, result)`` as each finishes, in
    the caller's thread (so the caller alone writes its journal). The first failure stops the running commands
    (they save their runs), waits for them and is raised."""
    waiting, running, done = list(items), dict[Future, Hashable](), set()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while waiting or running:
                ready = [item for item in waiting if after(item) & set(items) <= done]
                for item in ready[: jobs - len(running)]:
                    waiting.remove(item)
                    running[pool.submit(work, item)] = item
                if not running:
                    raise RuntimeError(f"{waiting} wait on each other: no order runs them")
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: f.exception() is not None):  # results before a failure
                    item = running.pop(future)
                    result = future.result()
                    done.add(item)
                    yield item, result
        except BaseException:
            commands.stop()
            raise

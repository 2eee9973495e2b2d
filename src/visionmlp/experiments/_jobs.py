"""Several of a sweep's commands at once: ``visionmlp experiment fashion-mnist --jobs N``.

Why: the ``_s4_28`` models run small GEMMs that two threads share poorly, so on the 2-core machine two runs of one
thread each train 1.07-1.59x more images a second in all than one run of two threads, by model
(``benchmarks/bench_jobs.py``; the speed work log in ``docs/results/performance.md``). Each command stays the row's
own command, run as a child process; this module only decides when each starts and with how many threads, labels
its output, and stops the others when one stops, so every run saves its checkpoint and the same sweep command
resumes all of them. When fewer runs are left than jobs, the ones still training are stopped and resumed with the
freed cores (a run's threads are fixed for its process), so the last recipe does not train on one core of two.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait


class SweepStopped(RuntimeError):
    """A recipe's command stopped before it finished (a signal, an error it printed); the sweep stops with it."""


def cores() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0))


class Commands:
    """The sweep's running child processes. ``run`` starts one (its output labelled when several run at once);
    ``interrupt`` sends one of them SIGTERM, which a training run answers by saving its checkpoint; ``stop`` does
    that to every one and refuses to start more."""

    def __init__(self, log: Callable[[str], None] = print):
        self.log = log
        self._running: dict[subprocess.Popen, str | None] = {}
        self._lock = threading.Lock()
        self._stopped = False

    def run(self, argv: Sequence[str], label: str | None = None, quiet: bool = False, tag: str | None = None) -> int:
        """Run ``argv`` to its end; its exit status. ``label``: prefix every output line with it (stdout and
        stderr together, line by line). ``quiet``: discard stdout. ``tag``: the name ``interrupt`` finds it by."""
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
            self._running[proc] = tag
        try:
            if piped:
                for line in proc.stdout:
                    self.log(f"[{label}] {line.rstrip()}")
            return proc.wait()
        finally:
            with self._lock:
                del self._running[proc]

    def interrupt(self, tag: str) -> bool:
        """SIGTERM to the running command tagged ``tag``; whether there was one."""
        with self._lock:
            found = [proc for proc, t in self._running.items() if t == tag]
            for proc in found:
                proc.terminate()
            return bool(found)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for proc in self._running:
                proc.terminate()


class Launcher:
    """How the sweep runs ``visionmlp`` commands: as child processes of one :class:`Commands` (which stop
    together), each training run with ``threads`` compute threads (the cores shared evenly among the runs at
    once: :meth:`share`), its output labelled by recipe when several run at once."""

    def __init__(self, commands: Commands, labelled: bool = False):
        self.commands, self.labelled = commands, labelled
        self.threads = cores()
        self._widened: set[str] = set()

    def step(self, recipe: str, args: list[str], quiet: bool = False) -> None:
        """``visionmlp ARGS`` to its end; :class:`SweepStopped` when it fails."""
        code = self.commands.run(visionmlp(*args), recipe if self.labelled else None, quiet)
        if code:
            raise _stopped(recipe, args, code)

    def train(self, recipe: str, args: list[str]) -> bool:
        """``visionmlp train ARGS --threads N``: True when it finished, False when :meth:`share` stopped it to be
        resumed with more threads; :class:`SweepStopped` when it failed or was stopped otherwise."""
        argv = visionmlp(*args, "--threads", str(self.threads))
        code = self.commands.run(argv, recipe if self.labelled else None, tag=recipe)
        widened = recipe in self._widened
        self._widened.discard(recipe)
        if code == 0 or widened:
            return code == 0
        raise _stopped(recipe, args, code)

    def share(self, runs: Sequence[str]) -> None:
        """Share the cores evenly among ``runs`` (recipe names, each training or about to). A new run starts
        with its share; when the share grows, each run still training is stopped (it saves its checkpoint) for
        :meth:`train`'s caller to resume it with the freed cores."""
        threads, before = max(1, cores() // max(1, len(runs))), self.threads
        self.threads = threads
        for recipe in runs if threads > before else ():
            self._widened.add(recipe)
            if not self.commands.interrupt(recipe):
                self._widened.discard(recipe)  # not training now: its next training run gets the threads


def visionmlp(*args: str) -> list[str]:
    """The argv of ``visionmlp ARGS`` in this interpreter."""
    return [sys.executable, "-m", "visionmlp.cli", *args]


def _stopped(recipe: str, args: list[str], code: int) -> SweepStopped:
    return SweepStopped(f"{recipe}: `visionmlp {args[0]}` stopped with exit status {code} (its output says why); "
                        "the finished rows are saved, and the same command resumes the sweep")  # fmt: skip


def run_jobs(
    items: Sequence[Hashable],
    work: Callable,
    jobs: int,
    after: Callable[[Hashable], set],
    commands: Commands,
    share: Callable[[list], None] = lambda items: None,
) -> Iterator[tuple[Hashable, object]]:
    """``work(item)`` for every item, up to ``jobs`` at once, each started once the items ``after(item)`` names
    (among ``items``) have finished, in the given order otherwise; yields ``(item, result)`` as each finishes, in
    the caller's thread (so the caller alone writes its journal). ``share(items)``: told which items will share
    the machine, before new ones start (with them) and whenever one finished and nothing waiting could take its
    place. The first failure stops the running commands (they save their runs), waits for them and is raised."""
    waiting, running, done, known = list(items), dict[Future, Hashable](), set(), set(items)

    def is_ready(item) -> bool:
        return after(item) & known <= done

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            while waiting or running:
                ready = [item for item in waiting if is_ready(item)]
                starting = ready[: jobs - len(running)]
                if starting:
                    share([*running.values(), *starting])
                for item in starting:
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
                if running and not any(is_ready(item) for item in waiting):
                    share(list(running.values()))
        except BaseException:
            commands.stop()
            raise

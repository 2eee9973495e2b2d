"""The process keeps the memory it frees (utils/allocator.py): a training step's tensors are not faulted in afresh
every step, unless the user chose a malloc policy of their own."""

import json
import os
import platform
import subprocess
import sys

import pytest

from visionmlp.utils import allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


class FakeLibc:
    def __init__(self, answer: int = 1):
        self.calls, self.answer = [], answer

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return self.answer


@pytest.fixture
def fresh(monkeypatch):
    """A process where keep_freed_memory() has not decided yet, with no malloc settings of the user's."""
    monkeypatch.setattr(allocator, "_applied", None)
    for key in [k for k in os.environ if k.startswith("MALLOC_")] + [allocator.ENV, "GLIBC_TUNABLES", "LD_PRELOAD"]:
        monkeypatch.delenv(key, raising=False)
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_libc", lambda: libc)
    return libc


def test_glibc_is_told_to_keep_freed_memory(fresh):
    assert allocator.keep_freed_memory() == "glibc malloc keeping freed memory"
    assert fresh.calls == [(allocator.M_MMAP_MAX, 0), (allocator.M_TRIM_THRESHOLD, allocator.KEEP_UP_TO)]
    assert allocator.keep_freed_memory() == allocator.allocator_policy()  # decided once
    assert len(fresh.calls) == 2


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"VISIONMLP_ALLOCATOR": "system"}, "VISIONMLP_ALLOCATOR=system"),
        ({"MALLOC_ARENA_MAX": "2"}, "MALLOC_ARENA_MAX is set"),
        ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}, "GLIBC_TUNABLES sets malloc"),
        ({"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}, "another allocator is preloaded"),
    ],
)
def test_a_policy_of_the_users_own_wins(fresh, monkeypatch, env, reason):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert allocator.keep_freed_memory() == f"system malloc ({reason})"
    assert fresh.calls == []


def test_other_c_libraries_and_refusals_are_named(fresh, monkeypatch):
    monkeypatch.setattr(allocator, "_libc", lambda: None)
    assert allocator.keep_freed_memory() == "system malloc (not glibc)"
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setattr(allocator, "_libc", lambda: FakeLibc(answer=0))
    assert allocator.keep_freed_memory() == "system malloc (glibc refused mallopt)"


FAULTS = """
import resource, sys, torch
from visionmlp.utils.allocator import keep_freed_memory
keep_freed_memory()
torch.zeros(16 * 2**20).sum()  # 64 MB, above glibc's largest mmap threshold: mmap'd afresh by default
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(8):
    torch.zeros(16 * 2**20).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(**env) -> int:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", FAULTS], env={**clean, **env}, capture_output=True, text=True,
                          check=True)  # fmt: skip
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's; other C libraries keep their own policy")
def test_freed_memory_is_reused_without_page_faults():
    """Eight 64 MB tensors, allocated and freed in turn: glibc's defaults fault every page of each in (8 x 16,384
    pages); kept, the first one's pages serve them all."""
    pages = 8 * 64 * 2**20 // os.sysconf("SC_PAGE_SIZE")
    assert _faults(VISIONMLP_ALLOCATOR="system") > pages // 2
    assert _faults() < pages // 20


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_the_command_line_applies_it_and_benchmarks_record_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "visionmlp.cli", "benchmark", "mixer_s4_28", "--batch-size", "2", "--rounds", "1",
         "--warmup", "0", "--measure", "inference", "--no-memory", "--json"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    machine = json.loads(done.stdout)["results"][0]["machine_before"]
    assert machine["allocator"] == "glibc malloc keeping freed memory"

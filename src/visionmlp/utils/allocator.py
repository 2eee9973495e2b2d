"""Keep freed memory in the process, so that a training step does not fault its activations in afresh every time.

With glibc's default settings, malloc hands the top of its heap back to the kernel once enough of it is free and
serves large blocks from fresh ``mmap`` pages; both come back as page faults (the kernel zeroes every 4 KiB page) on
the next step, which frees and allocates the same tensors again. On the project's 2-core AMD EPYC, a bfloat16
training step (batch 128) of ``vip_s4_28`` took 13,000 minor page faults and spent 19% of its wall time in the
kernel, one of ``gmlp_s4_28`` 39,000 and 45%; with the freed memory kept, under a hundred faults and 0-1%
(``benchmarks/bench_allocator.py`` measures it side by side). The price is that the process keeps its peak heap until
it exits, which a training or benchmark process needs again at the next step anyway.

The command line applies this once at start (``visionmlp.cli.main``); a Python user calls :func:`keep_freed_memory`.
``VISIONMLP_ALLOCATOR=system`` leaves malloc as it is (to compare, or where the memory must go back), and so does any
``MALLOC_*`` or ``GLIBC_TUNABLES`` setting of the user's own or another C library than glibc (jemalloc or tcmalloc
through ``LD_PRELOAD`` keep their own policy).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

ENV = "VISIONMLP_ALLOCATOR"
# glibc's mallopt() parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: the largest trim threshold mallopt takes (an int): free heap is kept up to 2 GiB
KEEP_UP_TO = 2**31 - 1
_applied: str | None = None


def _user_policy() -> str | None:
    """Why the user's own malloc settings win, or None when there are none."""
    if os.environ.get(ENV, "").strip().lower() == "system":
        return f"{ENV}=system"
    own = sorted(k for k in os.environ if k.startswith("MALLOC_"))
    if own:
        return f"{own[0]} is set"
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return "GLIBC_TUNABLES sets malloc"
    preload = os.environ.get("LD_PRELOAD", "")
    if "jemalloc" in preload or "tcmalloc" in preload or "mimalloc" in preload:
        return "another allocator is preloaded"
    return None


def _libc():
    """glibc, or None on another C library or platform (mallopt is glibc's)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def keep_freed_memory() -> str:
    """Tell glibc's malloc to keep what the process frees (no trimming of the heap, no ``mmap`` for large blocks)
    unless the user chose a malloc policy; returns what the process runs with, for logs and benchmark records.
    Idempotent: the first call decides."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> str:
    reason = _user_policy()
    if reason is not None:
        return f"system malloc ({reason})"
    libc = _libc()
    if libc is None:
        return "system malloc (not glibc)"
    if not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, KEEP_UP_TO)):
        return "system malloc (glibc refused mallopt)"
    return "glibc malloc keeping freed memory"


def allocator_policy() -> str:
    """What :func:`keep_freed_memory` decided in this process, or that it was not called."""
    return _applied or "system malloc (not configured)"

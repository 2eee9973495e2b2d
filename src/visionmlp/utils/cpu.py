"""What CPU this is: the numbers of a benchmark depend on it, and so does which float32 matmul is faster.

The project's machines are not all alike (an AMD EPYC and an Intel Xeon with AMX have both served it, with
float32 matmul rates 2x apart), so reports name the CPU they ran on and the float32 Linear picks its kernel
by it (``layers/linear.py``).
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


@functools.cache
def cpu_fields() -> dict[str, str]:
    """The first processor's ``/proc/cpuinfo`` fields; empty where there is no such file (not Linux)."""
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def cpu_vendor() -> str:
    """``GenuineIntel``, ``AuthenticAMD``, ...; ``""`` where unknown."""
    return cpu_fields().get("vendor_id", "")


def cpu_name() -> str:
    """The CPU's model name (``Intel(R) Xeon(R) Processor``), else whatever the platform says."""
    return cpu_fields().get("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags: x86's ``flags`` line, Arm's ``Features``; empty where unknown."""
    fields = cpu_fields()
    return set((fields.get("flags") or fields.get("Features") or "").split())


def cpu_summary() -> str:
    """Model name and the vector extensions that decide matmul speed, e.g. ``Intel(R) Xeon(R) Processor (avx2, avx512f,
    avx512_bf16, amx_bf16)``."""
    flags = cpu_flags()
    wide = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{cpu_name()} ({', '.join(wide)})" if wide else cpu_name()

"""A pause point for the crash tests: stop the process at an exact place so a test can signal it there.

With ``VISIONMLP_PAUSE_AT=NAME:N`` in the environment, the N-th call of ``pause_point(NAME)`` writes
``visionmlp: paused at NAME N`` to stderr and waits for a signal: a SIGKILL then lands exactly at that
point, and a SIGINT/SIGTERM runs its handler and lets the process go on. The points are ``step`` (an
optimizer step done, before the stop check) and ``checkpoint`` (a checkpoint's temporary file written,
not yet renamed over the previous one). Unset, which is always the case outside tests, a call costs one
environment lookup. POSIX only (``signal.pause``), like the tests that use it.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter

ENV = "VISIONMLP_PAUSE_AT"
_arrivals: Counter[str] = Counter()


def pause_point(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, count = spec.partition(":")
    if target != name:
        return
    _arrivals[name] += 1
    if _arrivals[name] == int(count or 1):
        print(f"visionmlp: paused at {name} {_arrivals[name]}", file=sys.stderr, flush=True)
        signal.pause()

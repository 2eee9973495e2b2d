"""Where a step's time goes: the operators with the most self time, per step, from ``torch.profiler``.

Speed work starts from a profile (``docs/results/performance.md``, speed work log): which operator costs what
share of an inference step says whether the GEMMs or the elementwise passes around them are the room left.
A profile is only worth quoting when a repository command reproduces it, so ``visionmlp benchmark --profile N``
records the top ``N`` operators beside the timings. Shares are of the profiled operators' total self time, so
they add up to at most 1 and are comparable between models; a profile taken while another job shares the cores
is distorted (threads wait for each other), so take it on a quiet machine.
"""

from __future__ import annotations

from torch.profiler import ProfilerActivity, profile

from .throughput import Step


def top_ops(step: Step, steps: int, top: int) -> list[dict]:
    """The ``top`` operators by self CPU time over ``steps`` runs of ``step`` (after one untimed run).

    Each row: ``op`` (an aten operator, or a profiled region such as an autograd Function or the optimizer
    step), ``calls`` and ``self_ms`` per step, and ``share`` of all operators'
    self time. Nested operators count only their own time, so no time is counted twice.
    """
    if steps < 1 or top < 1:
        raise ValueError(f"profile needs steps >= 1 and top >= 1, got steps={steps}, top={top}")
    step()  # first-call work (allocations, oneDNN primitive creation) is not the steady state
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [
        {
            "op": e.key,
            "calls": e.count / steps,
            "self_ms": e.self_cpu_time_total / steps / 1e3,
            "share": e.self_cpu_time_total / total,
        }
        for e in events[:top]
    ]

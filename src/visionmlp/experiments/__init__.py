"""The papers' claims as runnable studies: ``visionmlp experiment NAME``.

One module per study (claim, verdict rule and small-budget time estimate in its docstring); ``_runner``
(budgets, arms, parameter matching, training one arm), ``_data`` (the one data recipe), ``_study`` (the
study record, running it, the report and the claims table) and ``_plot`` are shared. ``fashion_mnist`` is the
Fashion-MNIST table rather than a claim (``visionmlp experiment fashion-mnist``): every long recipe trained by its own
command, scored once on the test set, the targets judged; it shares the journal.
"""

from __future__ import annotations

from . import (
    convmlp_ablation,
    data_scale,
    dynamixer_ablation,
    permutation,
    residual,
    resolution,
    tradeoff,
    transfer,
)
from ._runner import BUDGETS, Arm, Budget, ParamMismatchError, Point, check_matched, study_precision
from ._study import FAILS, HOLDS, INCONCLUSIVE, Study, Verdict, render_study, run_study, write_index

STUDIES: dict[str, Study] = {
    m.STUDY.name: m.STUDY
    for m in (data_scale, permutation, convmlp_ablation, dynamixer_ablation, residual, resolution, tradeoff, transfer)
}

__all__ = [
    "BUDGETS",
    "FAILS",
    "HOLDS",
    "INCONCLUSIVE",
    "STUDIES",
    "Arm",
    "Budget",
    "ParamMismatchError",
    "Point",
    "Study",
    "Verdict",
    "study_precision",
    "check_matched",
    "render_study",
    "run_study",
    "write_index",
]

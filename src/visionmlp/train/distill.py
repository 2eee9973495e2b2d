"""Knowledge distillation, as DeiT and ResMLP train their models: the student's loss mixes the label loss with
agreement to a teacher's predictions on the same (augmented, mixed) batch.

``soft``: the KL divergence between the teacher's and the student's distributions at temperature ``tau``,
times ``tau**2`` so that its gradient keeps its scale as ``tau`` grows (Hinton et al., 2015). ``hard``: the cross
entropy against the teacher's argmax, DeiT's hard-label distillation. ResMLP distils through its one classifier,
as here; DeiT's separate distillation token is a transformer detail with no place in these models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KINDS = ("soft", "hard")


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, kind: str, tau: float) -> torch.Tensor:
    """The distillation term for ``student`` and ``teacher`` logits of one batch (float32, mean over the batch)."""
    student, teacher = student.float(), teacher.float()
    if kind == "hard":
        return F.cross_entropy(student, teacher.argmax(dim=-1))
    if kind != "soft":
        raise ValueError(f"distill must be one of {', '.join(KINDS)}, got {kind!r}")
    log_student = F.log_softmax(student / tau, dim=-1)
    log_teacher = F.log_softmax(teacher / tau, dim=-1)
    return F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True) * tau * tau


class Teacher:
    """A frozen model that predicts on the student's batches: eval mode, no gradients, on the fast inference path
    (``fuse()`` and ``pack()`` where the model has them), under the student's autocast."""

    def __init__(self, model: nn.Module, device: torch.device):
        model = model.to(device).eval()
        self.model = model.for_inference() if hasattr(model, "for_inference") else model
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

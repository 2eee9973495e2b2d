"""Which precision a run computes in: bfloat16 autocast where the device computes bfloat16 natively, float32
elsewhere, decided once per run from the capability probe and said in the run's first lines.

``amp`` settings: ``"auto"`` (the default of ``train``, ``demo``, ``experiment`` and the recipes) chooses;
``True`` forces bfloat16 autocast, with one warning where the CPU only emulates it (on an AVX2-only CPU a training
step runs several times slower than in float32: docs/results/performance.md); ``False`` forces float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .capabilities import capabilities
from .cpu import cpu_summary

AMP_CHOICES = ("auto", True, False)


@dataclass(frozen=True)
class Precision:
    """A run's precision: ``bf16`` (autocast on) or float32, why, and a warning where the choice is slow."""

    bf16: bool
    reason: str
    warning: str | None = None

    @property
    def name(self) -> str:
        return "bfloat16 autocast" if self.bf16 else "float32"

    def describe(self) -> str:
        return f"precision: {self.name} ({self.reason})"


def parse_amp(value) -> bool | str:
    """A setting of ``amp`` as given in YAML or on the command line: ``auto``, a bool, or on/off words."""
    if isinstance(value, bool):
        return value
    words = {"auto": "auto", "true": True, "on": True, "yes": True, "1": True, "false": False, "off": False,
             "no": False, "0": False}  # fmt: skip
    text = str(value).strip().lower()
    if text in words:
        return words[text]
    raise ValueError(f"amp must be auto, true or false, got {value!r}")


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` computes bfloat16 natively, and the fact that says so."""
    if device.type == "cuda":
        ok = torch.cuda.is_bf16_supported()
        return ok, f"{torch.cuda.get_device_name(device)} {'supports' if ok else 'does not support'} bfloat16"
    if device.type == "cpu":
        caps = capabilities()
        where = f"this CPU ({cpu_summary()}) runs as kind {caps.kind}, which"
        if caps.native_bf16:
            return True, f"{where} computes bfloat16 natively"
        return False, f"{where} has no native bfloat16 (that needs AVX512-BF16 or AMX)"
    return False, f"no bfloat16 capability known for device {device.type}"


def emulated_warning(device: torch.device) -> str | None:
    """The one warning line for bfloat16 asked for where the device does not compute it natively, else None."""
    native, fact = native_bf16(device)
    if native:
        return None
    if device.type == "cpu" and not capabilities().onednn_bf16:
        cost = "expect it to be several times slower than float32 (a training step 5.7-11.5x on the avx2 kind)"
    else:
        cost = "expect it to be slower than float32"
    return f"warning: bfloat16 is emulated here: {fact}; {cost}"


def choose_precision(amp: bool | str, device: torch.device) -> Precision:
    """The precision for ``amp`` (``"auto"``, True or False) on ``device``."""
    amp = parse_amp(amp)
    if amp == "auto":
        native, fact = native_bf16(device)
        return Precision(native, f"amp auto: {fact}")
    if amp:
        return Precision(True, "amp on, as asked", emulated_warning(device))
    return Precision(False, "amp off, as asked")

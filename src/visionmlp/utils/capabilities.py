"""What this machine computes fast: the one probe that every precision choice and fast path asks.

The project's CPUs are not alike (an Intel Xeon with AMX, an AMD EPYC with AVX-512 and bfloat16 dot products,
an AMD EPYC with AVX2 only), and a choice that pays on one costs on another: bfloat16 autocast speeds training up
where the CPU has AVX512-BF16 or AMX, and slows it several times where it only has AVX2, because there oneDNN has
no bfloat16 kernels and PyTorch falls back to emulation (docs/results/performance.md has both per CPU kind). So
nothing decides a fast path from a guess; it asks :func:`capabilities`.

The answer is overridable, so that every side of every fast path can be tested on any machine and a user can
compare: ``VISIONMLP_CAPS=avx2`` (a named CPU kind) or ``VISIONMLP_CAPS=native_bf16=0,onednn=0`` (fields) in
the environment, or :func:`forced` in Python. An override changes what visionmlp chooses, not what the
hardware does: to also cap the instructions PyTorch and oneDNN use, set ``ATEN_CPU_CAPABILITY=avx2`` and
``ONEDNN_MAX_CPU_ISA=AVX2`` (the probe reads PyTorch's dispatch level, so they are seen).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from .cpu import cpu_flags, cpu_vendor

ENV = "VISIONMLP_CAPS"


@dataclass(frozen=True)
class Capabilities:
    """The answers, one per fast path; see :func:`probe` for how each is read off the machine."""

    #: the CPU kind the numbers of a benchmark belong to: "amx", "avx512", "avx2" or PyTorch's own name
    #: for another dispatch level ("default", "neon", ...)
    kind: str
    #: the CPU executes bfloat16 dot products in hardware (AVX512-BF16, AMX, Arm BF16): autocast pays
    native_bf16: bool
    #: oneDNN can prepack float32 Linear weights and fuse the activation after them (``pack()``)
    onednn: bool
    #: oneDNN has bfloat16 kernels for this CPU, so bfloat16 weights can be prepacked too
    onednn_bf16: bool
    #: a float32 Linear is faster as oneDNN's 1x1 convolution than as MKL's matmul (MKL on a non-Intel x86)
    conv_linear: bool
    #: a C++ compiler for ``torch.compile``'s CPU backend
    compiler: bool

    def describe(self) -> str:
        """One line for logs and reports, e.g. ``avx512 (native bfloat16, oneDNN packing)``."""
        facts = [
            "native bfloat16" if self.native_bf16 else "no native bfloat16",
            "oneDNN packing" if self.onednn else "no oneDNN packing",
        ]
        return f"{self.kind} ({', '.join(facts)})"


#: What each CPU kind answers, for ``VISIONMLP_CAPS=<kind>`` and ``forced(kind=...)``. The 1x1-convolution
#: route and the compiler do not follow from the kind (they depend on the BLAS vendor and the system), so a
#: named kind keeps the probed values of those two.
KINDS: dict[str, dict[str, bool]] = {
    "amx": {"native_bf16": True, "onednn": True, "onednn_bf16": True},
    "avx512": {"native_bf16": True, "onednn": True, "onednn_bf16": True},
    "avx2": {"native_bf16": False, "onednn": True, "onednn_bf16": False},
}
FIELDS = tuple(f.name for f in dataclasses.fields(Capabilities) if f.name != "kind")
BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 ``flags``, Arm ``Features`` in /proc/cpuinfo
BF16_LEVELS = ("avx512", "neon", "sve256")  # PyTorch dispatch levels whose CPUs can have bfloat16 kernels


def _compiler_found() -> bool:
    names = [os.environ.get("CXX", ""), "g++", "clang++", "c++"]
    return any(name and shutil.which(name) for name in names)


def probe() -> Capabilities:
    """Read the machine: PyTorch's dispatch level (which honours ``ATEN_CPU_CAPABILITY``), the CPU's flags,
    oneDNN's and MKL's presence, and a C++ compiler on the PATH."""
    level = torch.backends.cpu.get_cpu_capability().lower()  # "avx512", "avx2", "default", "neon", ...
    flags = cpu_flags()
    kind = "amx" if level == "avx512" and "amx_bf16" in flags else level
    onednn = torch.backends.mkldnn.is_available()
    # bfloat16 needs a dispatch level with bfloat16 kernels: a CPU capped to AVX2 (or below) has none, whatever
    # its flags say, and is native only where the CPU also has the dot-product instructions.
    bf16_level = level in BF16_LEVELS
    return Capabilities(
        kind=kind,
        native_bf16=bf16_level and bool(flags.intersection(BF16_FLAGS)),
        onednn=onednn,
        onednn_bf16=onednn and bf16_level and torch.ops.mkldnn._is_mkldnn_bf16_supported(),
        conv_linear=torch.backends.mkl.is_available() and cpu_vendor() not in ("GenuineIntel", ""),
        compiler=_compiler_found(),
    )


def parse_override(text: str) -> dict:
    """``avx2`` or ``native_bf16=0,onednn=1`` (a kind and fields may be mixed) as field values; a clear error
    names what is wrong and what is accepted."""
    values: dict = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, raw = item.partition("=")
        if not sep:
            if name not in KINDS:
                raise ValueError(f"{ENV}: unknown CPU kind {name!r}; use one of {', '.join(KINDS)} or field=0|1")
            values.update(KINDS[name], kind=name)
            continue
        if name not in FIELDS:
            raise ValueError(f"{ENV}: unknown capability {name!r}; the capabilities are {', '.join(FIELDS)}")
        if raw not in ("0", "1"):
            raise ValueError(f"{ENV}: {name} must be 0 or 1, got {raw!r}")
        values[name] = raw == "1"
    return values


_forced: list[dict] = []
_answer: dict[str, Capabilities] = {}  # per environment override; cleared by forced(); asked once per GEMM


@functools.cache
def _probed() -> Capabilities:
    return probe()


_probed()  # now, at import: a first call inside torch.jit.trace or an export would trace the probe's ops


@torch.compiler.assume_constant_result  # a compile reads the answer instead of tracing into the probe
def capabilities() -> Capabilities:
    """The probe's answers, with ``$VISIONMLP_CAPS`` and any :func:`forced` block applied on top."""
    env = os.environ.get(ENV, "")
    if env not in _answer:
        caps = _probed()
        for changes in ([parse_override(env)] if env else []) + _forced:
            caps = dataclasses.replace(caps, **changes)
        _answer[env] = caps
    return _answer[env]


@contextlib.contextmanager
def forced(kind: str | None = None, **fields: bool) -> Iterator[Capabilities]:
    """Answer as ``kind`` (a key of :data:`KINDS`) and/or with ``fields`` inside the block; for tests, and for
    comparing both sides of a fast path on one machine."""
    changes = parse_override(kind) if kind else {}
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown capability {', '.join(sorted(unknown))}; the capabilities are {', '.join(FIELDS)}")
    changes.update(fields)
    _forced.append(changes)
    _answer.clear()
    try:
        yield capabilities()
    finally:
        _forced.pop()  # blocks nest, so the last one pushed is this one
        _answer.clear()


def compiled(module: torch.nn.Module, device: torch.device, options: dict | None = None, warn=print):
    """``torch.compile(module, options=options)`` where the probe finds what the backend needs (on the CPU, a C++
    compiler); otherwise ``module`` itself, eager, with one line that says why and how to fix it."""
    if device.type == "cpu" and not capabilities().compiler:
        warn("warning: torch.compile on the CPU needs a C++ compiler and none is on the PATH (install g++ or set "
             "CXX); running eager")  # fmt: skip
        return module
    return torch.compile(module, options=options)

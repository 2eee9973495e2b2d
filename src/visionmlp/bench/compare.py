"""``--compare timm``: our model and timm's implementation of the same variant, timed side by side.

Both get the same weights (timm's random init, converted by ``visionmlp.convert``'s ``timm_*``
converter into ours), must compute the same function (max abs diff <= 1e-4 in float32 before any
dtype change or fusion), and are then timed alternately in one process, so each round's ratio sees one
machine load. timm is not a dependency: it is imported here only, and on machines without torchvision
``_timm_stub`` stands in for the parts of torchvision timm's import reads.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import torch

from ..convert import CONVERTERS, convert_state_dict, load_converted
from ..models import build_model, get_entry
from . import flops as flops_mod
from ._timm_stub import install as install_torchvision_stub
from .run import BenchConfig, make_input, prepare, with_autocast
from .throughput import Stats, alternate, inference_step, synchronizer

# Our family -> the converter of timm's state dicts for it (timm has no other MLP family of ours).
TIMM_FORMATS = {"mixer": "timm_mixer", "resmlp": "timm_resmlp", "gmlp": "timm_gmlp"}
MAX_ABS_DIFF = 1e-4


class TimmUnavailable(RuntimeError):
    """timm cannot be imported here; the message says why."""


def import_timm():
    """timm, importable with the torchvision stand-in when the real torchvision is missing."""
    stubbed = install_torchvision_stub()
    try:
        return importlib.import_module("timm")
    except Exception as err:  # timm's import can fail in many ways; all mean "no comparison here"
        hint = " (with visionmlp's torchvision stand-in)" if stubbed else ""
        raise TimmUnavailable(
            f"timm is not importable{hint}: {type(err).__name__}: {err}; install it with "
            "`pip install -c constraints.txt --no-deps timm`"
        ) from err


def check_comparable(name: str) -> str:
    """The timm converter format for ``name``; ValueError when timm has no such model (checked before
    any timing, so a bad request fails at once)."""
    family = get_entry(name).family
    if family not in TIMM_FORMATS:
        raise ValueError(
            f"timm has no implementation of the {family!r} family ({name}); --compare timm covers "
            f"{', '.join(sorted(TIMM_FORMATS))}"
        )
    if not import_timm().is_model(name):
        raise ValueError(f"timm has no model named {name!r}")
    return TIMM_FORMATS[family]


def build_pair(name: str, img_size: int | None = None) -> tuple[torch.nn.Module, torch.nn.Module, float]:
    """Ours and timm's ``name`` (float32, eval) with the same weights, and their max abs logit difference."""
    fmt = check_comparable(name)
    timm = import_timm()
    kwargs = {"img_size": img_size} if img_size is not None else {}
    theirs = timm.create_model(name, **kwargs).eval()
    ours = build_model(name, **kwargs, **CONVERTERS[fmt].model_kwargs).eval()
    load_converted(ours, convert_state_dict(fmt, theirs.state_dict()), source=f"timm {name}")
    # timm zero-initialises some heads; compare pre-logit features too so the check is never vacuous
    x = torch.randn(flops_mod.input_shape(name, 2, img_size), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = max(
            (ours(x) - theirs(x)).abs().max().item(),
            (ours.forward_head(ours.forward_features(x), pre_logits=True) - theirs.forward_head(
                theirs.forward_features(x), pre_logits=True)).abs().max().item(),
        )  # fmt: skip
    return ours, theirs, diff


def compare_timm(name: str, cfg: BenchConfig) -> dict:
    """Inference time (and batch-1 latency) of ours vs timm's, alternated; ratio = ours / timm per round."""
    ours, theirs, diff = build_pair(name, cfg.img_size)
    if diff > MAX_ABS_DIFF:
        raise RuntimeError(f"{name}: ours and timm's differ by {diff:.2e} > {MAX_ABS_DIFF} on the same weights")
    ours, theirs = prepare(ours, cfg, train=False), prepare(theirs, _without_fuse(cfg), train=False)
    device = torch.device(cfg.device)
    shape = flops_mod.input_shape(name, cfg.batch_size, cfg.img_size)
    out = {"max_abs_diff": diff, "timm_version": import_timm().__version__}
    sizes = {"inference": shape, "latency": (1, *shape[1:])}
    for key in (k for k in ("inference", "latency") if k in cfg.measure):
        x = make_input(cfg, sizes[key])
        steps = {
            "ours": with_autocast(inference_step(ours, x), cfg),
            "timm": with_autocast(inference_step(theirs, x), cfg),
        }
        times = alternate(steps, cfg.rounds, cfg.warmup, synchronizer(device))
        ratio = Stats.of(a / b for a, b in zip(times["ours"].samples, times["timm"].samples, strict=True))
        out[key] = {"ours": times["ours"].to_dict(), "timm": times["timm"].to_dict(), "ratio": ratio.to_dict()}
    return out


def _without_fuse(cfg: BenchConfig) -> BenchConfig:
    """timm's models have no ``fuse``; they run as timm builds them."""
    return replace(cfg, fuse=False)

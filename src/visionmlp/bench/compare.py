"""``--compare timm|official``: our model and another implementation of the same variant, timed side by side.

The reference is timm's model (Mixer, ResMLP, gMLP) or the authors' own code from a local clone
(``bench.official``, the families timm lacks). Both get the same weights (the reference's random init,
perturbed so that zero heads and identity norms cannot hide a misplaced weight, then converted into ours by
``visionmlp.convert``), must compute the same function (max abs diff <= 1e-4 in float32 before any dtype
change or fusion), and are then timed alternately in one process, so each round's ratio sees one machine
load. Neither timm nor the official code is a dependency: they are imported here only, and on machines
without torchvision ``_timm_stub`` stands in for the parts of torchvision their imports read.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from ..convert import CONVERTERS, convert_state_dict, load_converted
from ..models import build_model, get_entry
from . import flops as flops_mod
from . import official
from ._timm_stub import install as install_torchvision_stub
from .run import BenchConfig, make_input, prepare
from .throughput import alternate, inference_step, per_round_ratio, synchronizer, with_autocast

# Our family -> the converter of timm's state dicts for it (timm has no other MLP family of ours).
TIMM_FORMATS = {"mixer": "timm_mixer", "resmlp": "timm_resmlp", "gmlp": "timm_gmlp"}
REFERENCES = ("timm", "official")
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


def check_comparable(
    name: str, reference: str = "timm", official_root: str | Path | None = None, img_size: int | None = None
) -> str:
    """The converter format from ``reference``'s state dicts for ``name``; ValueError (or TimmUnavailable)
    when there is no such reference here, checked before any timing so a bad request fails at once."""
    if reference == "official":
        fmt = official.source_of(name, official_root).fmt
        native = get_entry(name).pretrained_cfg.input_size[-1]
        if img_size not in (None, native):
            raise ValueError(f"the official {name} is built as published, at {native}x{native}; drop --img-size")
        return fmt
    family = get_entry(name).family
    if family not in TIMM_FORMATS:
        raise ValueError(
            f"timm has no implementation of the {family!r} family ({name}); --compare timm covers "
            f"{', '.join(sorted(TIMM_FORMATS))}" + ("; try --compare official" if name in official.SOURCES else "")
        )
    if not import_timm().is_model(name):
        raise ValueError(f"timm has no model named {name!r}")
    return TIMM_FORMATS[family]


def build_pair(
    name: str, img_size: int | None = None, reference: str = "timm", official_root: str | Path | None = None
) -> tuple[nn.Module, nn.Module, float]:
    """Ours and the reference's ``name`` (float32, eval) with the same weights, and their max abs logit
    difference."""
    fmt = check_comparable(name, reference, official_root, img_size)
    size = {"img_size": img_size} if img_size is not None else {}
    if reference == "official":
        theirs = official.build_official(name, official_root)
    else:
        theirs = import_timm().create_model(name, **size)
    theirs = perturb(theirs.eval())
    ours = build_model(name, **size, **CONVERTERS[fmt].model_kwargs)
    load_converted(ours.eval(), convert_state_dict(fmt, theirs.state_dict()), source=f"{reference} {name}")
    x = torch.randn(flops_mod.input_shape(name, 2, img_size), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = (ours(x) - theirs(x)).abs().max().item()
    return ours, theirs, diff


@torch.no_grad()
def perturb(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random values, in place, for every bias, norm affine, all-zero weight and BatchNorm statistic.

    Initialisations zero heads and biases and make norms the identity; a weight mapped to the wrong place
    among such values changes nothing, so a parity check of freshly initialised models could pass with a
    wrong converter. After this every parameter moves the output.
    """
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats:
            module.running_mean.normal_(0.0, 0.1, generator=gen)
            module.running_var.uniform_(0.5, 1.5, generator=gen)
    for p in model.parameters():
        if p.dim() <= 1 or not p.any():
            p.add_(0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model


def compare(name: str, cfg: BenchConfig, reference: str = "timm", official_root: str | Path | None = None) -> dict:
    """Inference time (and batch-1 latency) of ours vs the reference's, alternated; ratio = ours / theirs
    per round (below 1: ours is faster)."""
    ours, theirs, diff = build_pair(name, cfg.img_size, reference, official_root)
    if diff > MAX_ABS_DIFF:
        raise RuntimeError(f"{name}: ours and {reference}'s differ by {diff:.2e} > {MAX_ABS_DIFF} on the same weights")
    # the reference runs as its authors build it: no fuse() or pack()
    ours, theirs = prepare(ours, cfg, train=False), prepare(theirs, replace(cfg, fuse=False, pack=False), train=False)
    device = torch.device(cfg.device)
    shape = flops_mod.input_shape(name, cfg.batch_size, cfg.img_size)
    out = {"max_abs_diff": diff}
    if reference == "timm":
        out["timm_version"] = import_timm().__version__
    else:
        out["official_repo"] = official.SOURCES[name].repo
    sizes = {"inference": shape, "latency": (1, *shape[1:])}
    for key in (k for k in ("inference", "latency") if k in cfg.measure):
        x = make_input(cfg, sizes[key])
        steps = {
            "ours": with_autocast(inference_step(ours, x), cfg.autocast()),
            reference: with_autocast(inference_step(theirs, x), cfg.autocast()),
        }
        times = alternate(steps, cfg.rounds, cfg.warmup, synchronizer(device))
        ratio = per_round_ratio(times["ours"], times[reference])
        out[key] = {"ours": times["ours"].to_dict(), reference: times[reference].to_dict(), "ratio": ratio.to_dict()}
    return out

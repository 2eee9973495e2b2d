"""Reading the official-implementation fixtures in shared/fixtures/official (see their README)."""

import argparse
import ast
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open


def load_fixture(path: Path):
    """(metadata, official state dict in float32, input NCHW, official logits) of one fixture file."""
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    state = {
        k[len("state/") :]: (v.float() if v.is_floating_point() else v)
        for k, v in tensors.items()
        if k.startswith("state/")
    }
    return meta, state, tensors["input"], tensors["logits"]


def constructor_kwargs(meta: dict) -> dict:
    """The literal keyword arguments of the official constructor call stored in the fixture."""
    call = ast.parse(meta["constructor"], mode="eval").body
    kwargs = {}
    for kw in call.keywords:
        try:
            kwargs[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            kwargs[kw.arg] = ast.unparse(kw.value)
    return kwargs


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# The registered variant each official format's fixture is rebuilt from (by the official arguments).
VARIANT = {
    "flax_mixer": "mixer_s16_224",
    "timm_mixer": "mixer_s16_224",
    "timm_resmlp": "resmlp_12_224",
    "timm_gmlp": "gmlp_s16_224",
    "deit_resmlp": "resmlp_12_224",
    "ffonly": "ffonly_base",
    "eamlp": "eamlp_14",
    "convmlp": "convmlp_s",
    "vip": "vip_s7",
    "dynamixer": "dynamixer_s",
    "cyclemlp": "cyclemlp_b1",
    "asmlp": "asmlp_t",
}


def fixture_model(fmt, meta):
    """The variant and arguments that rebuild a fixture: its official constructor call, passed by the official
    names (``official_kwargs``), plus the input size the fixture records beside it (not every official
    constructor takes one)."""
    return VARIANT[fmt], dict(official_kwargs=constructor_kwargs(meta), img_size=int(meta["img_size"]))


FIXTURES = [
    "asmlp_p4_s5_d2221_64",
    "asmlp_p4_s7_d1222_96",
    "convmlp_b222_64",
    "cyclemlp_l1212_96",
    "cyclemlp_l2222_64",
    "deit_resmlp_p8_d2_64",
    "dynamixer_p7_l2222_112",
    "eamlp_performer_d2_64",
    "ffonly_p16_d2_224",
    "flax_mixer_p8_d2_64",
    "timm_gmlp_p8_d2_64",
    "timm_mixer_p8_d2_64",
    "timm_resmlp_p8_d2_64",
    "vip_p4_l2222_64",
]


def write_official(state, fmt, folder, wrap=False):
    """The fixture's tensors in the official file layout, under a name that says nothing of the format."""
    path = folder / "checkpoint.bin"
    if fmt == "flax_mixer":
        with open(path, "wb") as f:
            np.savez(f, **{k: v.numpy() for k, v in state.items()})
    elif wrap:  # a training checkpoint: nested, DDP-prefixed, with the script's arguments
        nested = {"state_dict_ema": {f"module.{k}": v for k, v in state.items()}, "args": argparse.Namespace(lr=1)}
        torch.save({**nested, "epoch": 3}, path)
    else:
        torch.save(state, path)
    return path

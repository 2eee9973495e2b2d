"""Reading the official-implementation fixtures in shared/fixtures/official (see their README)."""

import ast
from pathlib import Path

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

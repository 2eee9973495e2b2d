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


def fixture_model(stem, meta):
    """The registered variant and arguments that rebuild each fixture's official constructor call."""
    kw = constructor_kwargs(meta)
    size = int(meta["img_size"])
    common = dict(img_size=size, in_chans=int(meta["in_chans"]), num_classes=int(meta["num_classes"]))
    if stem == "flax_mixer":
        mlp = dict(tokens_mlp_dim=kw["tokens_mlp_dim"], channels_mlp_dim=kw["channels_mlp_dim"])
        return "mixer_s16_224", dict(
            common, **mlp, patch_size=8, num_blocks=kw["num_blocks"], embed_dim=kw["hidden_dim"]
        )
    if stem == "timm_mixer":
        t, c = kw["mlp_ratio"]
        dim = kw["embed_dim"]
        mlp = dict(tokens_mlp_dim=int(t * dim), channels_mlp_dim=int(c * dim))
        return "mixer_s16_224", dict(common, **mlp, patch_size=8, num_blocks=2, embed_dim=dim)
    if stem == "timm_resmlp":
        return "resmlp_12_224", dict(common, patch_size=8, embed_dim=kw["embed_dim"], depth=2, mlp_ratio=4)
    if stem == "timm_gmlp":
        return "gmlp_s16_224", dict(common, patch_size=8, embed_dim=kw["embed_dim"], num_blocks=2, mlp_ratio=6)
    if stem == "deit_resmlp":
        return "resmlp_12_224", dict(common, patch_size=8, embed_dim=kw["embed_dim"], depth=2, init_scale=0.1)
    if stem == "ffonly":
        arch = {k: kw[k] for k in ("patch_size", "embed_dim", "depth", "mlp_ratio")}
        return "ffonly_base", {**common, **arch}
    if stem == "convmlp":
        return "convmlp_s", dict(kw, img_size=size)
    if stem in ("vip", "dynamixer"):
        kw.pop("mlp_fn")
        return {"vip": "vip_s7", "dynamixer": "dynamixer_s"}[stem], kw
    assert stem == "eamlp", f"no model mapping for fixture family {stem}"
    arch = {k: kw[k] for k in ("embed_dim", "depth", "num_heads", "mlp_ratio", "token_dim")}
    return "eamlp_14", {**common, **arch}


FIXTURES = [
    "convmlp_b222_64",
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

"""The trained model ``validate`` and ``predict`` run, from any of the three things a user has: a run folder, a
training checkpoint (``last.pth``/``best.pth``) or a ``save_pretrained`` folder (or its ``model.safetensors``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from .. import hub
from ..dense import DenseModel
from ..factory import create_model
from ..models import list_models
from ..models._weights import CONFIG_NAME, WEIGHTS_NAME, read_checkpoint, sniff_container
from ..train import LAST, load_checkpoint, resolve_checkpoint
from ..train.checkpoint import model_from_checkpoint


@dataclass
class Trained:
    model: nn.Module  # eval mode
    path: Path  # the file the weights came from
    input: dict  # input_size, mean, std, crop_pct, interpolation
    classes: list[str] | None  # None where the weights carry no class names
    config: dict = field(default_factory=dict)  # the training run's settings (data, seed, val_split), if known


#: what a released weights file (``visionmlp export release``) says about the data it was scored on
PROVENANCE = ("data", "eval_split", "val_split", "seed")


def load_trained(path: str | Path, use_ema: bool = False) -> Trained:
    """``path`` may also be a tagged variant (``resnet_s2_28.fashion_mnist``) with weights the hub resolves."""
    if not Path(path).exists() and _tagged(str(path)):
        path = hub.resolve(*str(path).split(".", 1))
    path = Path(path)
    if path.is_file() and sniff_container(path) == "safetensors":
        return _saved(path, use_ema)
    if path.is_dir() and not (path / LAST).is_file():
        if (path / WEIGHTS_NAME).is_file():
            return _saved(path / WEIGHTS_NAME, use_ema)
        raise FileNotFoundError(
            f"{path} is neither a run folder (no {LAST}) nor a save_pretrained folder (no {WEIGHTS_NAME}); pass "
            "one of those or a checkpoint file"
        )
    ckpt = load_checkpoint(path)
    meta = ckpt["meta"]
    model = model_from_checkpoint(ckpt, use_ema=use_ema, wrap=_dense_head if meta.get("task") else None)
    return Trained(model, resolve_checkpoint(path), meta["input"], list(meta["classes"]), ckpt.get("config") or {})


def _dense_head(backbone: nn.Module, meta: dict) -> DenseModel:
    """A ``--task segment|detect`` run's model: the dense head over its backbone, rebuilt as saved."""
    return DenseModel(meta["task"], backbone, len(meta["classes"]))


def _saved(weights: Path, use_ema: bool) -> Trained:
    if use_ema:
        raise ValueError(f"{weights} holds one set of weights (save_pretrained keeps no EMA copy); drop --ema")
    ckpt = read_checkpoint(weights)
    config = ckpt.config
    if not config or "architecture" not in config:
        raise ValueError(f"{weights} has no {CONFIG_NAME} beside it naming its model; re-save it with save_pretrained")
    model = create_model(config["architecture"], pretrained=weights).eval()
    pcfg = model.pretrained_cfg
    labels = list(pcfg.label_names) if pcfg.label_names is not None else None
    provenance = {key: _value(ckpt.metadata[key]) for key in PROVENANCE if key in ckpt.metadata}
    return Trained(model, weights, pcfg.to_dict(), labels, provenance)


def _tagged(name: str) -> bool:
    """Whether ``name`` is ``<registered variant>.<tag>``."""
    variant, dot, tag = name.partition(".")
    return bool(dot and tag) and variant in list_models()


def _value(text: str):
    """A header string back as the number it was written from (``"0.1"``), else as it is."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text

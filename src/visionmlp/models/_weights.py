"""Weights on disk: reading tensors from any checkpoint file safely, and visionmlp's native format.

Reading never runs code from a file: the container is recognised from its first bytes (not its name)
and read with safetensors, ``numpy.load(allow_pickle=False)`` or ``torch.load(weights_only=True)``.
The native format is a folder with ``model.safetensors`` and ``config.json`` (architecture, the
keyword arguments the model was built with, its pretrained_cfg and the visionmlp version), so that
``create_model(name, pretrained=folder)`` rebuilds exactly the saved model.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._version import __version__
from ..utils import atomic_path, atomic_write_text

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
#: safetensors header entry marking a file written by :func:`save_pretrained`
NATIVE_FORMAT = "visionmlp"
#: the ``format`` tag of a ``visionmlp train`` checkpoint, before its version (``train/checkpoint.py``)
TRAIN_FORMAT = "visionmlp-train/"

# Keys under which training scripts nest the weights, in the order a user most likely wants them
# (an EMA copy is what the official repositories evaluate when it exists).
_NESTED_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model", "module")
_PREFIXES = ("module.", "_orig_mod.")
# Training scripts (DeiT, timm) store their argparse arguments beside the weights; a Namespace holds
# only data, so the weights-only unpickler may rebuild it.
_SAFE_GLOBALS = [argparse.Namespace]


@dataclass
class Checkpoint:
    """Tensors read from a file, with what the file says about itself."""

    path: Path
    state: dict[str, torch.Tensor]
    container: str  # "safetensors", "npz" or "torch"
    metadata: dict[str, str] = field(default_factory=dict)
    #: the native ``config.json`` beside the weights, if any
    config: dict | None = None

    @property
    def is_native(self) -> bool:
        return self.metadata.get("format") == NATIVE_FORMAT


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read the tensors of a native folder or any checkpoint file; errors name the file and the problem."""
    path = Path(path)
    if path.is_dir():
        if not (path / WEIGHTS_NAME).is_file():
            raise FileNotFoundError(f"{path} is a folder without {WEIGHTS_NAME}; expected a save_pretrained() folder")
        path = path / WEIGHTS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist or is not a file")
    container = sniff_container(path)
    if container == "zip":
        ckpt = _read_zip(path)
    elif container == "pickle":
        ckpt = _torch_load(path)
    else:
        ckpt = _read_safetensors(path)
    config_path = path.parent / CONFIG_NAME
    if ckpt.is_native and ckpt.config is None and config_path.is_file():
        try:
            ckpt.config = json.loads(config_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{config_path} is not valid JSON ({err}); re-save the model") from None
    return ckpt


#: first bytes of files people mistake for checkpoints, to name what was passed instead
_NOT_CHECKPOINTS = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
                    b"%PDF": "a PDF document", b"\x1f\x8b": "a gzip archive", b"<": "an HTML or XML page"}  # fmt: skip


def sniff_container(path: Path) -> str:
    """``"safetensors"``, ``"zip"`` (PyTorch's format or an .npz) or ``"pickle"`` (PyTorch's legacy format), told
    apart by structure: a safetensors file is a little-endian u64 header length (below 4 GiB) followed by the JSON
    header's ``{``, so its first byte can be anything, 0x80 too, the byte a pickle starts with. Anything else
    raises an error that says what the file looks like instead."""
    with open(path, "rb") as f:
        head = f.read(9)
    if not head:
        raise ValueError(f"{path} is empty (0 bytes); the download or copy was probably interrupted")
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 2**32:
        return "safetensors"  # a header longer than the file is a truncated one: the reader says so
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:  # pickle protocol 2-5: PyTorch's legacy, non-zip format
        return "pickle"
    looks = next((what for magic, what in _NOT_CHECKPOINTS.items() if head.startswith(magic)), None)
    if looks is None and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        looks = "a text file"
    raise ValueError(
        f"{path} is not a checkpoint visionmlp can read"
        + (f": it looks like {looks}" if looks else "")
        + f" (first bytes {head[:8]!r}); expected safetensors, a PyTorch .pth/.pth.tar or a numpy .npz"
    )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Only the tensors of :func:`read_checkpoint` (nested checkpoints unwrapped, prefixes stripped)."""
    return read_checkpoint(path).state


def _read_safetensors(path: Path) -> Checkpoint:
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            metadata = dict(f.metadata() or {})
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    except Exception as err:  # safetensors raises its own error types for corrupt or truncated files
        raise ValueError(f"{path} is not a readable safetensors file (truncated or corrupted?): {err}") from None
    ckpt = Checkpoint(path, unwrap_state_dict(state, str(path)), "safetensors", metadata)
    if ckpt.is_native and "config" in metadata:  # a single-file release carries its config in the header
        ckpt.config = json.loads(metadata["config"])
    return ckpt


def _read_zip(path: Path) -> Checkpoint:
    """A zip is either a numpy .npz (members ``*.npy``) or PyTorch's format (a ``data.pkl`` member)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{path} is a damaged zip archive (truncated download?): {err}") from None
    if any(n.endswith("data.pkl") for n in names):
        return _torch_load(path)
    if names and all(n.endswith(".npy") for n in names):
        return Checkpoint(path, _read_npz(path), "npz")
    raise ValueError(f"{path} is a zip archive but neither a PyTorch checkpoint nor a numpy .npz: {names[:5]}")


def _read_npz(path: Path) -> dict[str, torch.Tensor]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as err:  # object arrays need pickle, which is refused
        raise ValueError(f"{path}: refused to read an .npz entry that needs pickle ({err})") from None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(f"{path} is a damaged .npz (truncated download?): {err}") from None
    return {key: torch.from_numpy(np.ascontiguousarray(a)) for key, a in arrays.items()}


def _torch_load(path: Path) -> Checkpoint:
    """A PyTorch file; a ``visionmlp train`` checkpoint also brings its model's name and build arguments (its
    classes, channels, size and options), so that loading it rebuilds the trained model, head included."""
    obj = load_weights_only(path)
    ckpt = Checkpoint(path, unwrap_state_dict(obj, source=str(path)), "torch")
    meta = obj.get("meta") if isinstance(obj, dict) and str(obj.get("format", "")).startswith(TRAIN_FORMAT) else None
    if isinstance(meta, dict) and "model" in meta:
        ckpt.metadata = {"format": NATIVE_FORMAT, "written_by": "visionmlp train"}
        ckpt.config = {
            "architecture": meta["model"],
            "kwargs": dict(meta.get("build_kwargs") or {}),
            "pretrained_cfg": {**(meta.get("input") or {}), "label_names": meta.get("classes")},
        }
    return ckpt


def load_weights_only(path: str | Path):
    """``torch.load(weights_only=True)`` on the CPU, with errors that name the file and the problem in one
    line: a pickle that would run code is refused, a damaged file is called damaged."""
    try:
        with torch.serialization.safe_globals(_SAFE_GLOBALS):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except (PermissionError, IsADirectoryError):
        raise  # the system's error names the file and the cause; the file may be fine
    except Exception as err:
        detail = str(err)
        if "Weights only load failed" in detail or "Unsupported global" in detail:
            culprit = next((line.strip() for line in detail.splitlines() if "GLOBAL" in line), "")
            raise ValueError(
                f"{path}: refused to load: the file's pickle would run code or build objects other than tensors "
                f"({culprit or 'unsupported global'}). visionmlp only reads weights-only checkpoints; if you trust "
                "the file, load it yourself and re-save its state dict with torch.save or safetensors"
            ) from None
        first = detail.splitlines()[0].split(". ")[0] if detail else "no detail"  # torch adds paragraphs
        raise ValueError(f"{path} is not a readable PyTorch checkpoint (truncated or corrupted?): {first}") from None


def unwrap_state_dict(obj, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Find the state dict inside a training checkpoint and strip DDP / torch.compile prefixes."""
    while isinstance(obj, dict) and not _is_state_dict(obj):
        inner = next((obj[k] for k in _NESTED_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            raise ValueError(
                f"{source} holds no state dict: top-level keys are {sorted(map(str, obj))[:10]}; "
                f"expected tensors or one of {list(_NESTED_KEYS)}"
            )
        obj = inner
    if not isinstance(obj, dict):
        raise ValueError(f"{source} holds a {type(obj).__name__}, not a state dict")
    out = {}
    for key, value in obj.items():
        for prefix in _PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def _is_state_dict(obj: dict) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


# ----- native format ---------------------------------------------------------------------------
def save_pretrained(model: nn.Module, directory: str | Path) -> Path:
    """Write ``model.safetensors`` + ``config.json`` into ``directory`` (created if needed), atomically.

    safetensors refuses tensors that share memory, so every tensor after the first on a storage is
    written as its own copy; loading copies values into the parameters in place, so a model whose
    architecture ties weights (EAMLP's tokenizer) keeps them tied after loading.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file; save_pretrained needs a folder")
    from safetensors.torch import save_file

    name = getattr(model, "model_name", type(model).__name__)
    state = _unshared(model.state_dict())
    with atomic_path(directory / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp), metadata={"format": NATIVE_FORMAT, "architecture": name})
    atomic_write_text(directory / CONFIG_NAME, json.dumps(native_config(model), indent=2) + "\n")
    return directory


def save_release(model: nn.Module, path: str | Path, provenance: dict[str, str]) -> Path:
    """One float16 safetensors file that rebuilds ``model`` by itself: the floating-point weights halved (a
    small model's file stays about 1 MB, the size a repository can hold), the native config and ``provenance``
    (what it was trained on, its measured top-1, the command) in the header. ``create_model(name,
    pretrained=path)`` reads it back into the model's own dtype."""
    from safetensors.torch import save_file

    state = {k: v.half() if v.is_floating_point() else v for k, v in _unshared(model.state_dict()).items()}
    name = getattr(model, "model_name", type(model).__name__)
    metadata = {**provenance, "format": NATIVE_FORMAT, "architecture": name, "config": json.dumps(native_config(model))}
    with atomic_path(Path(path)) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return Path(path)


def native_config(model: nn.Module) -> dict:
    """What ``config.json`` records: enough to rebuild the model before loading its weights."""
    kwargs = dict(getattr(model, "build_kwargs", {}))
    # The head may have been replaced since the build (reset_classifier, features_only).
    kwargs["num_classes"] = model.num_classes
    cfg = getattr(model, "pretrained_cfg", None)
    indices = getattr(model, "feature_indices", None)
    return {
        "architecture": getattr(model, "model_name", type(model).__name__),
        "kwargs": kwargs,
        "features_only": indices is not None,
        "out_indices": list(indices) if indices is not None else None,
        "pretrained_cfg": cfg.to_dict() if cfg is not None else None,
        "visionmlp_version": __version__,
    }


def _unshared(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    seen: set[int] = set()
    out = {}
    for key, tensor in state.items():
        tensor = tensor.detach()
        ptr = tensor.untyped_storage().data_ptr()
        out[key] = tensor.clone(memory_format=torch.contiguous_format) if ptr in seen else tensor.contiguous()
        seen.add(ptr)
    return out

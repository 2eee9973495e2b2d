"""How ``pretrained=True`` finds a variant's weight files: resolving and downloading only.

Each variant registers the files its authors published with its table entry (``models/<family>.py``:
``weights=``; URLs checked against the official repositories' code and READMEs, files that could not be
verified, such as ViP's Google Drive links, left out). Resolution, first hit wins:

1. ``$VISIONMLP_WEIGHTS_DIR/<file_name>``: the offline route, a folder the user filled by hand;
2. ``$VISIONMLP_CACHE`` (default ``~/.cache/visionmlp``)``/<file_name>``: an earlier download;
3. a download into that cache (progress bar, SHA-256 checked when known), unless ``VISIONMLP_OFFLINE=1``.

When all fail, the error names the exact file to fetch and where to put it.

The project's own trained weights ship inside the package, one float16 safetensors per variant under
``weights/<dataset>/<variant>.safetensors`` (written by ``visionmlp export release``); each is listed as
the variant's file tagged with the dataset (``resnet_s2_28.fashion_mnist``) and is read where it lies.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import urllib.request
from dataclasses import replace
from pathlib import Path

from .models import get_entry, list_models
from .models._registry import PretrainedCfg, WeightFile
from .models._weights import NATIVE_FORMAT
from .utils import atomic_path

WEIGHTS_DIR_ENV = "VISIONMLP_WEIGHTS_DIR"
CACHE_ENV = "VISIONMLP_CACHE"
OFFLINE_ENV = "VISIONMLP_OFFLINE"

#: the package's folder of weights trained by this project (weights/ at the top of the checkout links to it)
BUNDLED_DIR = Path(__file__).parent / "weights"
_BUNDLED = "bundled:"


def pretrained_cfg(name: str) -> PretrainedCfg:
    """The variant's registered config: its official weight files (registered with the variant), then the
    project's own."""
    cfg = get_entry(name).pretrained_cfg
    return replace(cfg, weights=cfg.weights + bundled_weights(name))


def bundled_weights(name: str) -> tuple[WeightFile, ...]:
    """The project's trained weights of variant ``name``, one per dataset folder under :data:`BUNDLED_DIR`."""
    from safetensors import safe_open

    files = []
    for path in sorted(BUNDLED_DIR.glob(f"*/{name}.safetensors")):
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        classes = json.loads(meta.get("config", "{}")).get("kwargs", {}).get("num_classes", 1000)
        top1 = float(meta["top1"]) if "top1" in meta else None
        tag = path.parent.name.replace("-", "_")
        url = f"{_BUNDLED}{path.parent.name}/{path.name}"
        files.append(WeightFile(url, f"{tag}_{path.name}", NATIVE_FORMAT, tag=tag, num_classes=classes, top1=top1))
    return tuple(files)


#: timm's tags for the same official files, so that a timm name (``mixer_b16_224.goog_in21k``) works unchanged;
#: only where the file is unambiguously the same (timm's Mixer in1k tag names a fine-tune, ours the from-scratch file)
TIMM_TAGS = {"goog_in21k": "in21k", "fb_distilled_in1k": "dist", "fb_in1k": "no_dist", "fb_dino": "dino",
             "fb_in22k_ft_in1k": "22k"}  # fmt: skip


def weight_file(name: str, tag: str | None = None) -> WeightFile:
    """The official file of ``name`` with ``tag`` (ours or timm's), or the preferred one without a tag."""
    files = pretrained_cfg(name).weights
    if not files:
        raise ValueError(
            f"no official weights are known for {name!r}; pass pretrained=PATH to a checkpoint "
            "(official file or save_pretrained folder)"
        )
    if tag is None:
        return files[0]
    record = next((f for f in files if f.tag == TIMM_TAGS.get(tag, tag)), None)
    if record is None:
        raise ValueError(f"{name!r} has no weights tagged {tag!r}; its tags: {', '.join(f.tag for f in files)}")
    return record


def list_pretrained(pattern: str = "*", family: str | None = None) -> list[str]:
    """``name.tag`` for every official file of the variants matching ``pattern`` (a name or a tagged name)."""
    return [
        f"{name}.{record.tag}"
        for name in list_models(family=family)
        for record in pretrained_cfg(name).weights
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(f"{name}.{record.tag}", pattern)
    ]


def resolve(name: str, tag: str | None = None) -> Path:
    """The local path of ``name``'s official file (the preferred one, or the one ``tag`` names), downloading it
    if allowed (see module doc)."""
    record = weight_file(name, tag)
    if record.url.startswith(_BUNDLED):
        return BUNDLED_DIR / record.url[len(_BUNDLED) :]
    weights_dir = os.environ.get(WEIGHTS_DIR_ENV)
    if weights_dir and (Path(weights_dir) / record.file_name).is_file():
        return Path(weights_dir) / record.file_name
    cached = cache_dir() / record.file_name
    if cached.is_file():
        return cached
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        problem = f"{OFFLINE_ENV} is set, so nothing is downloaded"
    elif not record.direct:
        problem = "its authors share it through a web page, not a file link, so it cannot be downloaded for you"
    else:
        try:
            return download(record, cached)
        except (OSError, ValueError) as err:  # URLError is an OSError
            problem = f"downloading {record.url} failed ({err})"
    where = f"${WEIGHTS_DIR_ENV} (now {weights_dir})" if weights_dir else f"a folder named by ${WEIGHTS_DIR_ENV}"
    raise FileNotFoundError(
        f"pretrained weights for {name!r} are not available: {problem}. Download {record.url} yourself and save "
        f"it as {record.file_name} in {where}, or pass pretrained='/path/to/{record.file_name}'"
    )


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "visionmlp")


def download(record: WeightFile, dest: Path) -> Path:
    """Fetch ``record.url`` to ``dest`` atomically with a progress bar; a checksum mismatch keeps nothing."""
    from rich.progress import Progress

    digest = hashlib.sha256()
    with atomic_path(dest) as tmp, urllib.request.urlopen(record.url, timeout=30) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(tmp, "wb") as out, Progress(transient=True) as progress:
            task = progress.add_task(record.file_name, total=total)
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                progress.advance(task, len(chunk))
        if record.sha256 and digest.hexdigest() != record.sha256:
            raise ValueError(f"checksum mismatch for {record.url}: got {digest.hexdigest()}, want {record.sha256}")
    return dest


__all__ = [
    "BUNDLED_DIR",
    "TIMM_TAGS",
    "bundled_weights",
    "cache_dir",
    "download",
    "list_pretrained",
    "pretrained_cfg",
    "resolve",
    "weight_file",
]

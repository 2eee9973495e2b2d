"""``--compare official``: the official implementations of the families timm lacks, for side-by-side timing.

The speed target for those families is stated against the authors' own code ("at least 1.1x its float32
throughput, 1.5x in bfloat16"), so that code has to run next to ours. visionmlp never ships or downloads
it: ``--official-root DIR`` names a folder holding each official repository under its GitHub name, e.g.
``git clone https://github.com/Andrew-Qibin/VisionPermutator DIR/VisionPermutator``.

The official files are imported as they are, never patched. Each is loaded as a module of a package whose
directory is the folder its own imports expect (``from .utils...`` in ConvMLP and EAMLP, ``from models...``
in DynaMixer), with that package's ``__init__`` skipped (they pull in training-only extras); the package
names are taken out of ``sys.modules`` again afterwards, so two repositories' ``models`` cannot collide
and nothing of ours is shadowed. timm's import needs torchvision, for which ``_timm_stub`` stands in.

Only families whose official code runs on a CPU with this PyTorch are listed; :data:`NOT_RUNNABLE` says
why the others cannot be measured.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..models import get_entry
from ._timm_stub import install as install_torchvision_stub


@dataclass(frozen=True)
class OfficialSource:
    """Where one variant's official constructor lives inside a clone of ``repo``.

    ``directory`` (relative to the clone) is imported as the package ``package``; ``module`` is the dotted
    module inside it that defines ``constructor``; ``fmt`` is the ``visionmlp.convert`` format of the
    state dict the constructor's model has.
    """

    repo: str
    directory: str
    package: str
    module: str
    constructor: str
    fmt: str

    @property
    def folder(self) -> str:
        """The clone's folder name under the official root: the repository's name."""
        return self.repo.split("/")[1]

    @property
    def path(self) -> str:
        """The model file, relative to the official root."""
        return f"{self.folder}/{self.directory}/{self.module.replace('.', '/')}.py"


def _sources(repo, directory, package, module, fmt, constructors: dict[str, str]) -> dict[str, OfficialSource]:
    """One source per ``our name -> official constructor`` of a repository's model file."""
    return {ours: OfficialSource(repo, directory, package, module, fn, fmt) for ours, fn in constructors.items()}


SOURCES: dict[str, OfficialSource] = {
    **_sources("SHI-Labs/Convolutional-MLPs", "src", "_official_convmlp", "convmlp", "convmlp",
               {"convmlp_s": "convmlp_s", "convmlp_m": "convmlp_m", "convmlp_l": "convmlp_l"}),
    **_sources("Andrew-Qibin/VisionPermutator", "models", "_official_vip", "vip", "vip",
               {"vip_s14": "vip_s14", "vip_s7": "vip_s7", "vip_m7": "vip_m7", "vip_l7": "vip_l7"}),
    # its files import each other as ``models.<file>``: the package must be called ``models``
    **_sources("ziyuwwang/DynaMixer", "models", "models", "configs.conf_dynamixer", "dynamixer",
               {"dynamixer_s": "dynamixer_s", "dynamixer_m": "dynamixer_m", "dynamixer_l": "dynamixer_l"}),
    **_sources("lukemelas/do-you-even-need-attention", ".", "_official_ffonly", "vision_transformer_linear",
               "ffonly", {"ffonly_tiny": "linear_tiny", "ffonly_base": "linear_base", "ffonly_large": "linear_large"}),
    **_sources("MenghaoGuo/EANet", "EAMLP/models", "_official_eamlp", "t2t_vit", "eamlp",
               {"eamlp_14": "T2t_vit_14", "eamlp_19": "T2t_vit_19"}),
}  # fmt: skip

NOT_RUNNABLE = {
    "cyclemlp": "its CycleFC calls torchvision.ops.deform_conv2d, and torchvision has no wheel for this CPU torch",
    "asmlp": "its axial shift is a CUDA kernel compiled with cupy; on a CPU the official Shift raises "
    "NotImplementedError",
    "s2mlp": "the S2-MLP authors released no code",
    "s2mlpv2": "the S2-MLPv2 authors released no code",
}


class OfficialUnavailable(ValueError):
    """The official implementation of a model cannot be built here; the message says why and what to do."""


def source_of(name: str, root: str | Path | None) -> OfficialSource:
    """The official source of ``name``, checked to be present under ``root`` (before anything is timed)."""
    if name not in SOURCES:
        family = get_entry(name).family
        reason = NOT_RUNNABLE.get(family)
        if reason:
            raise OfficialUnavailable(f"{name}: the official {family} code cannot run here: {reason}")
        covered = ", ".join(sorted(SOURCES))
        raise OfficialUnavailable(f"{name}: no official implementation is known to visionmlp; covered: {covered}")
    src = SOURCES[name]
    if root is None:
        raise OfficialUnavailable(
            "--compare official needs --official-root DIR: a folder holding clones of the official "
            f"repositories under their names (here: git clone https://github.com/{src.repo} DIR/{src.folder})"
        )
    if not (Path(root) / src.path).is_file():
        raise OfficialUnavailable(
            f"{name}: {src.path} not found under the official root {root}; clone it there with "
            f"`git clone https://github.com/{src.repo} {Path(root) / src.folder}`"
        )
    return src


def build_official(name: str, root: str | Path) -> nn.Module:
    """The official model for ``name`` from its clone under ``root`` (random init, eval mode)."""
    src = source_of(name, root)
    install_torchvision_stub()
    with _package(src.package, Path(root) / src.folder / src.directory), warnings.catch_warnings():
        # old timm import paths (timm.models.layers ...) warn; official files re-register timm names
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(sys.stderr):  # some print as they build; stdout may carry --json
            module = importlib.import_module(f"{src.package}.{src.module}")
            return getattr(module, src.constructor)().eval()


@contextlib.contextmanager
def _package(name: str, directory: Path):
    """``name`` resolves to a package over ``directory`` (its ``__init__`` not run) inside the block only;
    whatever ``sys.modules`` held under that name before is put back afterwards."""
    owned = lambda key: key == name or key.startswith(f"{name}.")  # noqa: E731
    saved = {k: v for k, v in sys.modules.items() if owned(k)}
    for key in saved:
        del sys.modules[key]
    package = types.ModuleType(name, f"official code in {directory} (visionmlp.bench.official)")
    package.__path__ = [str(directory)]
    sys.modules[name] = package
    try:
        yield package
    finally:
        for key in [k for k in sys.modules if owned(k)]:
            del sys.modules[key]
        sys.modules.update(saved)

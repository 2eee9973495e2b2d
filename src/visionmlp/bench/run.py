"""One benchmark of one model: build it, prepare it as configured, measure what was asked.

``benchmark`` returns a JSON-ready dict; the CLI (``visionmlp benchmark``) prints it or a table.
Weights are random (speed does not depend on their values); inference runs in eval mode, the training
step in train mode on a separate copy so that ``fuse`` never touches a model being trained.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..models import build_model, get_entry
from ..utils.allocator import allocator_policy
from ..utils.capabilities import capabilities, compiled
from ..utils.cpu import cpu_summary
from . import flops as flops_mod
from .profile import top_ops
from .roofline import MATMUL_SIDE, fraction, gflops, matmul_step
from .throughput import alternate, inference_step, peak_memory, synchronizer, training_step, with_autocast

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MEASURES = ("inference", "training", "latency")


@dataclass
class BenchConfig:
    """What to measure and how; the CLI's options one to one."""

    batch_size: int = 8
    img_size: int | None = None
    dtype: str = "float32"
    amp: bool = False
    compile: bool = False
    channels_last: bool = False
    fuse: bool = False
    pack: bool = False
    threads: int | None = None
    device: str = "cpu"
    rounds: int = 5
    warmup: int = 2
    roofline: bool = False
    matmul_side: int = MATMUL_SIDE
    measure: tuple[str, ...] = MEASURES
    memory: bool = True
    profile: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.amp and self.dtype != "float32":
            raise ValueError("--amp keeps float32 weights and autocasts to bfloat16; use it with --dtype float32")
        unknown = set(self.measure) - set(MEASURES)
        if unknown or not self.measure:
            raise ValueError(f"measure must be a non-empty subset of {MEASURES}, got {self.measure}")
        if self.batch_size < 1 or self.rounds < 1 or self.warmup < 0:
            raise ValueError("batch size and rounds must be >= 1 and warmup >= 0")
        if self.profile < 0:
            raise ValueError(f"profile is how many operators to list (0: no profile), got {self.profile}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype the matmuls run in (autocast's under ``amp``): the roofline's dtype."""
        return torch.bfloat16 if self.amp else self.torch_dtype

    def autocast(self) -> torch.autocast | None:
        return torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16) if self.amp else None


def prepare(model: nn.Module, cfg: BenchConfig, train: bool) -> nn.Module:
    """Put ``model`` in the configured mode, dtype, device and memory format (fused, packed and compiled if
    asked)."""
    model.train(train)
    if cfg.fuse and not train:
        model.fuse()
    model = model.to(device=cfg.device, dtype=cfg.torch_dtype)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if cfg.pack and not train:
        model.pack()
    if cfg.compile:
        # Inference may treat the weights as constants: inductor's freezing then prepacks them for oneDNN and
        # fuses elementwise work into the GEMMs (docs/results/performance.md, speed work log).
        # Every model shares VisionModel.forward's code object: without a reset, a run over many models hits
        # dynamo's recompile limit and the later ones silently run eager.
        torch._dynamo.reset()
        model = compiled(model, torch.device(cfg.device), options=None if train else {"freezing": True})
    return model


def make_input(cfg: BenchConfig, shape: tuple[int, ...]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.randn(shape, generator=gen).to(device=cfg.device, dtype=cfg.torch_dtype)
    return x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x


def machine_info(cfg: BenchConfig) -> dict:
    """What the numbers depend on besides the model; load average so noisy runs can be recognised."""
    info = {
        "torch": torch.__version__,
        "device": cfg.device,
        "threads": torch.get_num_threads(),
        "cpu": cpu_summary(),
        "cpu_kind": capabilities().kind,
        "cpu_count": os.cpu_count(),
        "load_avg": list(os.getloadavg()),
        "allocator": allocator_policy(),
    }
    if torch.device(cfg.device).type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(cfg.device)
    return info


def _measure(step, step_flops: int, images: int, cfg: BenchConfig, device: torch.device) -> dict:
    steps = {"model": step}
    if cfg.roofline:
        steps["matmul"], matmul_flops = matmul_step(cfg.compute_dtype, device, cfg.matmul_side)
    times = alternate(steps, cfg.rounds, cfg.warmup, synchronizer(device))
    out = {
        "images": images,
        "flops": step_flops,
        "seconds": times["model"].to_dict(),
        "images_per_s": times["model"].map(lambda s: images / s).to_dict(),
        "gflops": gflops(times["model"], step_flops).to_dict(),
    }
    if cfg.roofline:
        out["matmul_gflops"] = gflops(times["matmul"], matmul_flops).to_dict()
        out["fraction"] = fraction(times["model"], step_flops, times["matmul"], matmul_flops).to_dict()
    if cfg.memory:
        out["peak_memory_bytes"] = peak_memory(step, device)
    if cfg.profile:
        out["profile"] = top_ops(step, cfg.rounds, cfg.profile)
    return out


def benchmark(name: str, cfg: BenchConfig) -> dict:
    """Measure variant ``name`` as ``cfg`` says; a JSON-ready dict (the schema in ``cli/benchmark.py``)."""
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    device = torch.device(cfg.device)
    shape = flops_mod.input_shape(name, cfg.batch_size, cfg.img_size)
    build_kwargs = {"img_size": cfg.img_size} if cfg.img_size is not None else {}
    cost = flops_mod.count(name, cfg.batch_size, cfg.img_size)
    result = {
        "model": name,
        "family": get_entry(name).family,
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("memory", "seed")},
        "input_shape": list(shape),
        "params": cost.params,
        "flops": cost.flops,
        "macs": cost.macs,
        "gmacs_per_image": cost.macs_per_image / 1e9,
        "machine_before": machine_info(cfg),
    }
    torch.manual_seed(cfg.seed)
    if "inference" in cfg.measure or "latency" in cfg.measure:
        model = prepare(build_model(name, **build_kwargs), cfg, train=False)
        if "inference" in cfg.measure:
            step = with_autocast(inference_step(model, make_input(cfg, shape)), cfg.autocast())
            result["inference"] = _measure(step, cost.flops, cfg.batch_size, cfg, device)
        if "latency" in cfg.measure:
            one = (1, *shape[1:])
            step = with_autocast(inference_step(model, make_input(cfg, one)), cfg.autocast())
            result["latency"] = _measure(step, cost.flops // cfg.batch_size, 1, cfg, device)
        del model
    if "training" in cfg.measure:
        model = prepare(build_model(name, **build_kwargs), cfg, train=True)
        step = training_step(model, make_input(cfg, shape), get_entry(name).pretrained_cfg.num_classes, cfg.autocast())
        result["training"] = _measure(step, cost.train_flops, cfg.batch_size, cfg, device)
        del model
    result["machine_after"] = machine_info(cfg)
    return result

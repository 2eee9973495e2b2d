"""Training: the loop, optimizers, schedules, EMA, checkpoints and the distributed set-up."""

from .checkpoint import BEST, LAST, CheckpointSaver, load_checkpoint, resolve_checkpoint
from .config import TrainConfig
from .distributed import DistContext, cleanup, init_distributed
from .ema import ModelEma
from .evaluate import EvalResult, evaluate
from .loop import FitResult, NonFiniteLossError, Trainer, TrainState
from .optim import build_optimizer, param_groups
from .schedule import WarmupSchedule

__all__ = [
    "BEST",
    "LAST",
    "CheckpointSaver",
    "DistContext",
    "EvalResult",
    "FitResult",
    "ModelEma",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "WarmupSchedule",
    "build_optimizer",
    "cleanup",
    "evaluate",
    "init_distributed",
    "load_checkpoint",
    "param_groups",
    "resolve_checkpoint",
]

"""``TrainConfig``: every setting of a training run, in one flat dataclass.

The same field names are the YAML recipe keys and (with ``-`` for ``_``) the ``visionmlp train`` flags;
each field's ``help`` metadata is its flag's help text, so adding a setting here adds it everywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


def _opt(default, help: str, **extra):
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    # what to train, on what, where to
    model: str = _opt("mixer_s4_28", "registered model name (`visionmlp list-models`)")
    data: str = _opt("fashion-mnist", "fashion-mnist, synthetic[:CxHxW], or a path (IDX / CIFAR / image folder)")
    output: str | None = _opt(None, "run folder for checkpoints and logs (default: runs/<model>-<timestamp>)")
    pretrained: str | None = _opt(None, "initial weights: a save_pretrained folder or an official file")
    resume: str | None = _opt(None, "resume from a checkpoint file or a run folder (its last.pth)")
    img_size: int | None = _opt(None, "input side (default: the model's)")
    model_kwargs: dict | None = _opt(None, "extra model arguments, e.g. {embed_dim: 64, num_blocks: 4}")
    # schedule
    epochs: int = _opt(10, "training epochs")
    batch_size: int = _opt(128, "global batch size (split across processes)")
    accum_steps: int = _opt(1, "micro-batches accumulated per optimizer step")
    opt: str = _opt("adamw", "optimizer", choices=("adamw", "sgd"))
    lr: float = _opt(1e-3, "peak learning rate")
    min_lr: float = _opt(1e-5, "final learning rate of the cosine schedule")
    warmup_lr: float = _opt(1e-6, "learning rate at step 0 of the warm-up")
    warmup_epochs: float = _opt(1.0, "linear warm-up length in epochs (applied per step)")
    sched: str = _opt("cosine", "learning-rate schedule after warm-up", choices=("cosine", "step"))
    decay_epochs: float = _opt(30.0, "step schedule: epochs between decays")
    decay_rate: float = _opt(0.1, "step schedule: factor per decay")
    momentum: float = _opt(0.9, "SGD momentum")
    weight_decay: float = _opt(0.05, "decoupled weight decay (not on norms, biases, model.no_weight_decay())")
    clip_grad: float | None = _opt(None, "clip the gradient norm to this value")
    # regularisation and augmentation
    label_smoothing: float = _opt(0.1, "label smoothing")
    mixup: float = _opt(0.0, "mixup alpha (0: off)")
    cutmix: float = _opt(0.0, "cutmix alpha (0: off)")
    mixup_prob: float = _opt(1.0, "probability of mixing a batch")
    mixup_switch_prob: float = _opt(0.5, "probability of cutmix when both are on")
    aa: str | None = _opt(None, "RandAugment string, e.g. rand-m9-mstd0.5-inc1")
    scale_min: float = _opt(0.08, "smallest area fraction of the random resized crop")
    hflip: float = _opt(0.5, "horizontal flip probability")
    reprob: float = _opt(0.0, "random erasing probability")
    drop_rate: float | None = _opt(None, "dropout rate (model kwarg drop_rate)")
    drop_path_rate: float | None = _opt(None, "stochastic depth rate (model kwarg drop_path_rate)")
    ema: bool = _opt(False, "keep an exponential moving average of the weights")
    ema_decay: float = _opt(0.9998, "EMA decay per optimizer step")
    # machinery
    device: str = _opt("auto", "auto, cpu, cuda or cuda:N")
    amp: bool = _opt(False, "bfloat16 autocast")
    compile: bool = _opt(False, "torch.compile the model")
    channels_last: bool = _opt(False, "channels_last memory format")
    workers: int | None = _opt(None, "data loader worker processes (default: up to 4)")
    seed: int = _opt(0, "random seed")
    limit_train: int | None = _opt(None, "use a fixed random subset of this many training images")
    limit_val: int | None = _opt(None, "use a fixed random subset of this many validation images")
    skip_nonfinite: int = _opt(0, "skip up to this many batches with a NaN/Inf loss before stopping")
    time_budget: float | None = _opt(None, "stop after this many seconds (the schedule follows the budget)")
    checkpoint_every: int = _opt(0, "also save last.pth every N steps (0: at epoch ends only)")
    progress: bool = _opt(True, "show progress bars")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown setting(s) {', '.join(unknown)}; valid settings: {', '.join(sorted(names))}")
        cfg = cls(**values)
        cfg.check()
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def check(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "accum_steps": self.accum_steps,
                    "lr": self.lr}  # fmt: skip
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"{f.name} must be one of {', '.join(choices)}, got {getattr(self, f.name)!r}")
        if self.warmup_epochs < 0 or self.skip_nonfinite < 0 or self.checkpoint_every < 0:
            raise ValueError("warmup_epochs, skip_nonfinite and checkpoint_every must be >= 0")
        if self.model_kwargs is not None and not isinstance(self.model_kwargs, dict):
            raise ValueError(f"model_kwargs must be a mapping, got {self.model_kwargs!r}")
        if self.time_budget is not None and self.time_budget <= 0:
            raise ValueError(f"time_budget must be positive, got {self.time_budget}")

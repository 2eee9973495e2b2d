"""``TrainConfig``: every setting of a training run, in one flat dataclass.

The same field names are the YAML recipe keys and (with ``-`` for ``_``) the ``visionmlp train`` flags;
each field's ``help`` metadata is its flag's help text, so adding a setting here adds it everywhere.
Bounds are metadata too (``gt``, ``ge``, ``lt``, ``le``): :meth:`TrainConfig.check` tests every value's
type and range, so a bad recipe or flag fails before any data is read, with one line naming the setting,
its flag and the allowed range.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..utils.precision import AMP_CHOICES
from .distill import KINDS as DISTILL_KINDS


def _opt(default, help: str, **extra):
    return field(default=default, metadata={"help": help, **extra})


_BOUNDS = {"gt": (">", lambda v, b: v > b), "ge": (">=", lambda v, b: v >= b), "lt": ("<", lambda v, b: v < b),
           "le": ("<=", lambda v, b: v <= b)}  # fmt: skip
_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,)}


#: each dense task's headline score (a key of ``dense.DenseModel.score``'s result): what a run is judged and its
#: best epoch chosen by
HEADLINE = {"segment": "miou", "detect": "map"}


@dataclass
class TrainConfig:
    # what to train, on what, where to
    model: str = _opt("mixer_s4_28", "registered model name (`visionmlp list-models`)")
    data: str = _opt("fashion-mnist", "fashion-mnist, fashion-mnist:holdout (validated on 6,000 held-out training "
                     "images), synthetic[:CxHxW], or a path (IDX / CIFAR / image folder)")  # fmt: skip
    task: str = _opt("classify", "classify, or segment (Semantic FPN) / detect (FCOS) on the model's features_only "
                     "pyramid, with dense data such as fashion-mnist-mosaic",
                     choices=("classify", "segment", "detect"))  # fmt: skip
    output: str | None = _opt(None, "run folder for checkpoints and logs (default: runs/<model>-<timestamp>)")
    pretrained: str | None = _opt(None, "initial weights: a save_pretrained folder or an official file")
    resume: str | None = _opt(None, "resume from a checkpoint file or a run folder (its last.pth)")
    img_size: int | None = _opt(None, "input side (default: the model's)", gt=0)
    model_kwargs: dict | None = _opt(None, "extra model arguments, e.g. {embed_dim: 64, num_blocks: 4}")
    # schedule
    epochs: int = _opt(10, "training epochs", gt=0)
    batch_size: int = _opt(128, "global batch size (split across processes)", gt=0)
    accum_steps: int = _opt(1, "micro-batches accumulated per optimizer step", gt=0)
    opt: str = _opt("adamw", "optimizer", choices=("adamw", "sgd"))
    lr: float = _opt(1e-3, "peak learning rate", gt=0)
    min_lr: float = _opt(1e-5, "final learning rate of the cosine schedule", ge=0)
    warmup_lr: float = _opt(1e-6, "learning rate at step 0 of the warm-up", ge=0)
    warmup_epochs: float = _opt(1.0, "linear warm-up length in epochs (applied per step; at most 20%% of the run)",
                                ge=0)  # fmt: skip
    sched: str = _opt("cosine", "learning-rate schedule after warm-up", choices=("cosine", "step"))
    decay_epochs: float = _opt(30.0, "step schedule: epochs between decays", gt=0)
    decay_rate: float = _opt(0.1, "step schedule: factor per decay", gt=0, le=1)
    momentum: float = _opt(0.9, "SGD momentum", ge=0, lt=1)
    weight_decay: float = _opt(0.05, "decoupled weight decay (not on norms, biases, model.no_weight_decay())", ge=0)
    clip_grad: float | None = _opt(None, "clip the gradient norm to this value", gt=0)
    # regularisation and augmentation
    label_smoothing: float = _opt(0.1, "label smoothing", ge=0, lt=1)
    mixup: float = _opt(0.0, "mixup alpha (0: off)", ge=0)
    cutmix: float = _opt(0.0, "cutmix alpha (0: off)", ge=0)
    mixup_prob: float = _opt(1.0, "probability of mixing a batch", ge=0, le=1)
    mixup_switch_prob: float = _opt(0.5, "probability of cutmix when both are on", ge=0, le=1)
    aa: str | None = _opt(None, "RandAugment string, e.g. rand-m9-mstd0.5-inc1")
    scale_min: float = _opt(0.08, "smallest area fraction of the random resized crop", gt=0, le=1)
    hflip: float = _opt(0.5, "horizontal flip probability", ge=0, le=1)
    reprob: float = _opt(0.0, "random erasing probability", ge=0, le=1)
    drop_rate: float | None = _opt(None, "dropout rate (model kwarg drop_rate)", ge=0, lt=1)
    drop_path_rate: float | None = _opt(None, "stochastic depth rate (model kwarg drop_path_rate)", ge=0, lt=1)
    ema: bool = _opt(False, "keep an exponential moving average of the weights")
    ema_decay: float = _opt(0.9998, "EMA decay per optimizer step", gt=0, lt=1)
    # knowledge distillation (train/distill.py)
    teacher: str | None = _opt(None, "distil from this teacher: a run folder, training checkpoint, save_pretrained "
                               "folder, the project's trained weights by tag (resnet_s2_28.fashion_mnist), or an "
                               "official file with --teacher-model")  # fmt: skip
    teacher_model: str | None = _opt(None, "the teacher's registered model name (needed for an official file)")
    distill: str = _opt("soft", "distillation target: soft (KL at --distill-tau) or hard (the teacher's argmax)",
                        choices=DISTILL_KINDS)  # fmt: skip
    distill_alpha: float = _opt(0.5, "weight of the distillation loss; the label loss gets 1 - alpha", ge=0, le=1)
    distill_tau: float = _opt(1.0, "temperature of soft distillation", gt=0)
    # machinery
    device: str = _opt("auto", "auto, cpu, cuda or cuda:N")
    amp: bool | str = _opt(
        "auto",
        "bfloat16 autocast: auto (where the device computes bfloat16 natively), true or false",
        choices=AMP_CHOICES,
    )
    compile: bool = _opt(False, "torch.compile the model")
    channels_last: bool = _opt(False, "channels_last memory format")
    workers: int | None = _opt(None, "data loader worker processes (default: up to 4)", ge=0)
    threads: int | None = _opt(None, "compute threads of each training process (default: torch's, one per core); "
                               "fewer let several runs share a machine", gt=0)  # fmt: skip
    seed: int = _opt(0, "random seed", ge=0)
    limit_train: int | None = _opt(None, "use a fixed random subset of this many training images", gt=0)
    limit_val: int | None = _opt(None, "use a fixed random subset of this many validation images", gt=0)
    val_split: float = _opt(0.1, "fraction of the training images held out (seeded) for validation when the data "
                            "has no validation split (an image folder without val/)", gt=0, lt=1)  # fmt: skip
    skip_nonfinite: int = _opt(0, "skip up to this many batches with a NaN/Inf loss before stopping", ge=0)
    time_budget: float | None = _opt(None, "stop after this many seconds (the schedule follows the budget)", gt=0)
    checkpoint_every: int = _opt(0, "also save last.pth every N steps (0: at epoch ends only)", ge=0)
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
        """Raise ValueError, naming the setting, what it accepts and its flag, for a value of the wrong
        type, not among the choices or out of range."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            kinds = [k.strip() for k in f.type.split("|")]
            if value is None and "None" in kinds:
                continue
            types = tuple(t for kind in kinds if kind != "None" for t in _TYPES[kind])
            choices = f.metadata.get("choices")
            bounds = {key: f.metadata[key] for key in _BOUNDS if key in f.metadata}
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                problem = f"must be {'an' if kinds[0] == 'int' else 'a'} {' or '.join(k for k in kinds if k != 'None')}"
            elif choices and value not in choices:
                problem = f"must be one of {', '.join(map(str, choices))}"
            elif not all(_BOUNDS[key][1](value, bound) for key, bound in bounds.items()):
                problem = "must be " + " and ".join(f"{_BOUNDS[key][0]} {bound}" for key, bound in bounds.items())
            else:
                continue
            raise ValueError(
                f"{f.name} {problem}, got {value!r}; fix it in the recipe or with --{f.name.replace('_', '-')}"
            )
        if self.task != "classify":
            classifying = [name for name, on in (("mixup", self.mixup > 0), ("cutmix", self.cutmix > 0),
                                                 ("aa", self.aa), ("teacher", self.teacher)) if on]  # fmt: skip
            if classifying:
                raise ValueError(f"--task {self.task} trains on whole images with their dense labels, but "
                                 f"{', '.join(classifying)} {'is a' if len(classifying) == 1 else 'are'} "
                                 f"classification setting{'s' if len(classifying) > 1 else ''}; drop "
                                 f"{'it' if len(classifying) == 1 else 'them'}")  # fmt: skip

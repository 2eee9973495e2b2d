"""``visionmlp train``: train a model on Fashion-MNIST, CIFAR, an image folder or synthetic data.

Every ``TrainConfig`` field is a flag (``--batch-size``) and a recipe key (``batch_size``); precedence is
defaults < the resumed checkpoint's config < the ``-c`` recipe < flags. The resolved config is saved as
``config.yaml`` in the run folder beside ``last.pth`` / ``best.pth`` and ``summary.csv``. Launch the same
command with ``torchrun --nproc_per_node=N`` for data-parallel training.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from importlib import resources
from pathlib import Path

import torch
import yaml
from torch import nn

from ..data import ImageDataset, build_dataset, build_eval_transform, build_train_transform
from ..dense import DenseModel
from ..factory import create_model
from ..models import PretrainedCfg, build_model
from ..train import (
    LAST,
    DistContext,
    TrainConfig,
    Trainer,
    cleanup,
    init_distributed,
    load_checkpoint,
    resolve_checkpoint,
)
from ..train.checkpoint import seed_everything
from ..train.config import HEADLINE
from ..train.loop import FitResult
from ..utils.atomic import atomic_write_text
from ..utils.precision import choose_precision, parse_amp
from . import UsageError
from ._trained import load_trained


def _mapping(text: str) -> dict:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a plain YAML mapping ({yaml_problem(err)})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a mapping such as '{{embed_dim: 64}}', got {text!r}")
    return value


def _auto_bool(text: str) -> bool | str:
    try:
        return parse_amp(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


_TYPES = {"str": str, "int": int, "float": float, "dict": _mapping}


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model (single process or under torchrun)",
                       description=__doc__.split("\n\n")[0])  # fmt: skip
    p.add_argument("-c", "--config", metavar="YAML", help="training recipe (e.g. configs/fashion_mnist/mixer.yaml)")
    add_config_flags(p)
    p.set_defaults(func=_train)


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per ``TrainConfig`` field; unset flags are absent from the namespace (recipes fill them)."""
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        kwargs = {"default": argparse.SUPPRESS, "help": _with_default(f.metadata["help"], f.default)}
        if f.type == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if f.type == "bool | str":  # --amp (on), --amp auto|true|false, --no-amp
            parser.add_argument(flag, nargs="?", const=True, type=_auto_bool, metavar="auto|true|false", **kwargs)
            parser.add_argument("--no-" + flag[2:], dest=f.name, action="store_const", const=False,
                                default=argparse.SUPPRESS, help=f"same as {flag} false")  # fmt: skip
            continue
        base = f.type.split("|")[0].strip()
        parser.add_argument(flag, type=_TYPES[base], choices=f.metadata.get("choices"), metavar=base.upper(), **kwargs)


def _with_default(text: str, default) -> str:
    """A flag's help with its default (the flags default to "unset" so that recipes can fill them)."""
    if "default" in text:
        return text
    if default is None or isinstance(default, bool):
        default = {None: "none", True: "on", False: "off"}[default]
    return f"{text} (default: {default})"


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    values: dict = {}
    resume = getattr(args, "resume", None)
    if resume:
        values.update(load_checkpoint(resume).get("config", {}))
        values["resume"] = resume
    if getattr(args, "config", None):
        values.update(load_recipe(args.config))
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    values.update({k: v for k, v in vars(args).items() if k in names})
    return TrainConfig.from_dict(values)


def load_recipe(path: str | Path) -> dict:
    path = find_recipe(path)
    try:
        recipe = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UsageError(
            f"recipe {path} is not plain YAML ({yaml_problem(err)}); a recipe is a mapping of settings, and tags "
            "that build Python objects (!!python/...) are refused"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"recipe {path} is not UTF-8 text; pass a YAML recipe") from None
    if not isinstance(recipe, dict):
        raise UsageError(f"recipe {path} must be a mapping of settings, got a {type(recipe).__name__}")
    return {str(k).replace("-", "_"): v for k, v in recipe.items()}


def find_recipe(name: str | Path) -> Path:
    """A recipe file: the path as given, else one shipped with the package (``configs/fashion_mnist/mixer.yaml``,
    ``fashion_mnist/mixer.yaml`` or ``fashion_mnist/mixer`` work from any folder once visionmlp is installed)."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = Path(str(resources.files("visionmlp") / "configs"))
    relative = path.relative_to("configs") if path.parts[:1] == ("configs",) else path
    for candidate in (shipped / relative, shipped / relative.with_suffix(".yaml")):
        if candidate.is_file():
            return candidate
    known = sorted(str(p.relative_to(shipped).with_suffix("")) for p in shipped.rglob("*.yaml"))
    raise UsageError(f"recipe {name} not found, neither as a file nor among the shipped recipes: {', '.join(known)}")


def yaml_problem(err: yaml.YAMLError) -> str:
    """What a YAML error says, on one line (PyYAML's own text spans several, with a source excerpt)."""
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"{getattr(err, 'problem', None) or err}{where}"


def model_kwargs(cfg: TrainConfig, data_args: dict) -> dict:
    """``--model-kwargs`` with the flags that are model arguments (``--img-size``, ``--drop-rate`` ...) added;
    an argument given twice, or one that the data decides (classes, channels), is a usage error."""
    kwargs = dict(cfg.model_kwargs or {})
    for key, value in data_args.items():
        if key in kwargs and kwargs[key] != value:
            raise UsageError(
                f"--model-kwargs sets {key}={kwargs[key]!r}, but the data {cfg.data!r} needs {key}={value}; "
                f"remove {key} from --model-kwargs"
            )
        kwargs[key] = value
    for key in ("drop_rate", "drop_path_rate", "img_size"):
        value = getattr(cfg, key)
        if value is None:
            continue
        if key in kwargs and kwargs[key] != value:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"{key} is given twice ({flag} {value}, --model-kwargs {kwargs[key]!r}); keep one")
        kwargs[key] = value
    return kwargs


def output_folder(cfg: TrainConfig) -> Path:
    if cfg.output:
        return Path(cfg.output)
    if cfg.resume:
        return resolve_checkpoint(cfg.resume).parent
    return Path("runs") / f"{cfg.model}-{time.strftime('%Y%m%d-%H%M%S')}"


def resumed_input(pcfg: PretrainedCfg, checkpoint: dict) -> PretrainedCfg:
    """The input settings (size, mean, std, crop, interpolation) the run started with, from the checkpoint's
    meta: they may have come from the --pretrained weights, which a resumed run does not read again."""
    saved = (checkpoint.get("meta") or {}).get("input") or {}
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in pcfg.__dataclass_fields__}
    return dataclasses.replace(pcfg, **fields)


def build_datasets(cfg: TrainConfig, seed: int) -> tuple[ImageDataset, ImageDataset]:
    train_set = build_dataset(cfg.data, "train", cfg.val_split, seed=seed).limit(cfg.limit_train, seed)
    val_set = build_dataset(cfg.data, "val", cfg.val_split, seed=seed).limit(cfg.limit_val, seed)
    return train_set, val_set


def run(cfg: TrainConfig, log=print) -> FitResult:
    """Set up data, model and processes for ``cfg`` and train; what ``train`` and ``demo`` share."""
    ctx = init_distributed(cfg.device)
    threads = torch.get_num_threads()  # restored after: a caller in the same process keeps its own
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _fit(cfg, ctx, log if ctx.is_main else _quiet)  # only rank 0 reports
    finally:
        cleanup()  # after _fit returned: its trainer, which holds the process group, is garbage by now
        torch.set_num_threads(threads)


def _fit(cfg: TrainConfig, ctx: DistContext, log) -> FitResult:
    """``run``'s work in a frame of its own: the trainer is dropped on return, before ``cleanup`` runs."""
    precision = choose_precision(cfg.amp, ctx.device)
    log(precision.describe())
    if precision.warning:
        log(precision.warning)
    output = output_folder(cfg)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {output} is a file; pass a folder for the run")
    if not cfg.resume and (output / LAST).exists():
        raise UsageError(f"{output} already holds a run; pass --resume {output} or another --output")
    train_set, val_set = build_datasets(cfg, cfg.seed)
    for dataset in (train_set, val_set):
        if hasattr(dataset, "summary"):
            log(f"{cfg.data}: {dataset.summary()}")
    dense = cfg.task != "classify"
    classes = dense_classes(cfg.task, train_set) if dense else list(train_set.classes)
    data_args = {"in_chans": train_set.channels}
    if not dense:  # a dense head brings its own classifier; the backbone returns its feature maps
        data_args["num_classes"] = len(classes)
    kwargs = model_kwargs(cfg, data_args)
    if dense:
        kwargs["features_only"] = True
    seed_everything(cfg.seed)  # the initial weights; a resumed run restores its RNG states later
    checkpoint = load_checkpoint(cfg.resume) if cfg.resume else None
    if checkpoint is None:
        model = create_model(cfg.model, pretrained=cfg.pretrained or False, **kwargs)
    else:  # the architecture the run saved, weights from the checkpoint: --pretrained (maybe gone) is not read
        model = build_model(cfg.model, **(checkpoint.get("meta") or {}).get("build_kwargs", kwargs))
        model.pretrained_cfg = resumed_input(model.pretrained_cfg, checkpoint)
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, label_names=tuple(classes))
    pcfg = model.pretrained_cfg
    meta = {
        "model": cfg.model,
        "build_kwargs": {**model.build_kwargs, **({"features_only": True} if dense else {})},
        "classes": classes,
        "input": {k: v for k, v in pcfg.to_dict().items() if k != "weights"},
        "precision": precision.name,
    }
    if dense:  # dense items come as tensors in [0, 1]; the DenseModel normalises them
        model = DenseModel(cfg.task, model, len(classes))
        meta["task"] = cfg.task
    else:
        train_set.transform = build_train_transform(
            pcfg.input_size, pcfg.mean, pcfg.std, scale=(cfg.scale_min, 1.0), hflip=cfg.hflip, auto_augment=cfg.aa,
            reprob=cfg.reprob, interpolation=pcfg.interpolation,
        )  # fmt: skip
        val_set.transform = build_eval_transform(pcfg.input_size, pcfg.mean, pcfg.std, crop_pct=pcfg.crop_pct,
                                                 interpolation=pcfg.interpolation)  # fmt: skip
    teacher = load_teacher(cfg, log) if cfg.teacher else None
    trainer = Trainer(cfg, model, train_set, val_set, ctx, output, meta, log, precision, teacher)
    if checkpoint is not None:
        trainer.load_state_dict(checkpoint)
        log(f"resumed from {resolve_checkpoint(cfg.resume)} at epoch {trainer.state.epoch + 1}, "
            f"step {trainer.state.global_step}")  # fmt: skip
    if ctx.is_main:
        atomic_write_text(output / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    params = sum(p.numel() for p in model.parameters())
    what = f"{cfg.task} with {cfg.model}" if dense else cfg.model
    log(f"training {what} ({params:,} params) on {cfg.data}: {len(train_set)} train / "
        f"{len(val_set)} val images, {trainer.steps_per_epoch} steps per epoch, {ctx.world_size} process(es) "
        f"on {ctx.device} ({torch.get_num_threads()} thread(s) each); run folder {output}")  # fmt: skip
    return trainer.fit()


def dense_classes(task: str, dataset) -> list[str]:
    """The classes a dense head predicts: the class map's (background included) or the boxes'."""
    if not hasattr(dataset, "box_classes"):
        raise UsageError(f"--task {task} needs dense data (fashion-mnist-mosaic, or a folder of images with masks/ "
                         "or annotations.json); this data holds labelled images for --task classify")  # fmt: skip
    return list(dataset.classes if task == "segment" else dataset.box_classes)


def load_teacher(cfg: TrainConfig, log) -> nn.Module:
    """The teacher ``--teacher`` names: a run folder, training checkpoint, save_pretrained folder or tagged
    shipped weights (which say their architecture), or an official file loaded into ``--teacher-model``."""
    if cfg.teacher_model:
        teacher = create_model(cfg.teacher_model, pretrained=cfg.teacher)
    else:
        try:
            teacher = load_trained(cfg.teacher).model
        except ValueError as err:
            raise UsageError(f"--teacher {cfg.teacher}: {err}; for an official file, also pass --teacher-model "
                             "NAME") from None  # fmt: skip
    params = sum(p.numel() for p in teacher.parameters())
    log(f"distilling from {cfg.teacher} ({getattr(teacher, 'model_name', type(teacher).__name__)}, {params:,} "
        f"params): {cfg.distill}, alpha {cfg.distill_alpha:g}" + (f", tau {cfg.distill_tau:g}" if cfg.distill ==
        "soft" else ""))  # fmt: skip
    return teacher


def _quiet(_message: str) -> None:
    """The log of the ranks other than 0."""


def _train(args) -> int:
    cfg = resolve_config(args)
    result = run(cfg)
    if result.stopped == "signal":
        return 130
    if result.last_eval is not None and result.is_main:
        ev = result.last_eval
        best = f"{100 * result.state.best_top1:.2f}% at epoch {result.state.best_epoch}"
        if cfg.task != "classify":
            scores = ", ".join(f"{k} {100 * v:.2f}%" for k, v in ev.items() if isinstance(v, float))
            print(f"final: val {scores} (best {HEADLINE[cfg.task]} {best})")
        else:
            print(f"final: val top-1 {100 * ev.top1:.2f}%, top-5 {100 * ev.top5:.2f}%, loss {ev.loss:.4f} "
                  f"(best top-1 {best})")  # fmt: skip
    return 0

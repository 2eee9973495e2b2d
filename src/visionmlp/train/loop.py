"""The training loop: one ``Trainer`` for single-process, DDP, CPU and GPU runs.

Exact resumption rests on three things: every random draw of the data pipeline is derived from
``(seed, epoch, index)`` or ``(seed, step)`` (``data/base.py``, mixup below), the global RNG states that
dropout and drop-path use are saved with the step counters, and the sampler skips the batches already
done. Stops (SIGINT/SIGTERM, the time budget) are requests honoured after the current optimizer step,
agreed across ranks so that no rank is left waiting in a collective.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..data import ImageDataset, Mixup, build_loader, collate_dense, default_workers, sample_rng, set_position
from ..data.mixup import soft_target_cross_entropy
from ..utils import pause_point
from ..utils.capabilities import compiled
from ..utils.cpu import cpu_summary
from ..utils.precision import Precision, choose_precision
from .checkpoint import CHECKPOINT_FORMAT, LAST, CheckpointSaver, capture_rng, restore_rng
from .config import HEADLINE, TrainConfig
from .distill import Teacher, distillation_loss
from .distributed import DistContext
from .ema import ModelEma
from .evaluate import EvalResult, autocast, evaluate
from .logger import RunLogger
from .optim import build_optimizer
from .phases import PhaseClock, time_left
from .schedule import WarmupSchedule

#: the largest share of a run's steps the learning-rate warm-up may take
MAX_WARMUP = 0.2
#: steps between reads of the loss (a device sync) and, under DDP, between the collective stop checks
SYNC_EVERY = 10


class NonFiniteLossError(RuntimeError):
    """The loss or a gradient became NaN/Inf more often than ``skip_nonfinite`` allows, or a parameter did
    (the weights diverged: skipping cannot help). ``last.pth`` is never overwritten with such weights."""


@dataclass
class TrainState:
    epoch: int = 0  # the epoch in progress (0-based)
    step_in_epoch: int = 0  # optimizer steps done in it
    global_step: int = 0
    elapsed: float = 0.0  # training seconds over all sessions (for the time budget)
    skipped_batches: int = 0
    epoch_loss_sum: float = 0.0
    epoch_loss_count: int = 0
    best_top1: float = -1.0
    best_epoch: int = -1
    rows: list[dict] = field(default_factory=list)


@dataclass
class FitResult:
    state: TrainState
    stopped: str | None  # "signal", "time budget" or None when all epochs ran
    last_eval: EvalResult | None
    checkpoint: Path | None
    is_main: bool = True  # rank 0 (or a single process): the one that reports


class StopRequest:
    """Set by SIGINT/SIGTERM (or ``request()``); the loop stops after the step in progress."""

    def __init__(self):
        self.requested = False
        self._previous: dict = {}

    def request(self, *_) -> None:
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self.request)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class Trainer:
    """Train ``model`` on ``train_set``, validating on ``val_set`` after each epoch.

    ``meta`` (model name, build arguments, class names ...) is stored in every checkpoint for
    ``visionmlp validate`` / ``predict``. ``output`` is the run folder (None: write nothing); only rank 0
    writes.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        model: nn.Module,
        train_set: ImageDataset,
        val_set: ImageDataset,
        ctx: DistContext | None = None,
        output: Path | None = None,
        meta: dict | None = None,
        log: Callable[[str], None] = print,
        precision: Precision | None = None,
        teacher: nn.Module | None = None,
    ):
        cfg.check()
        self.cfg, self.ctx, self.meta = cfg, ctx or DistContext(), dict(meta or {})
        #: what ``cfg.amp`` chose on this device (the caller may have chosen, and logged, it already)
        self.precision = precision or choose_precision(cfg.amp, self.ctx.device)
        self.output = Path(output) if output is not None and self.ctx.is_main else None
        self.log = log if self.ctx.is_main else (lambda _msg: None)
        self.num_classes = len(train_set.classes)
        if cfg.batch_size % (self.ctx.world_size * cfg.accum_steps):
            raise ValueError(
                f"batch_size {cfg.batch_size} must be divisible by processes x accum_steps "
                f"({self.ctx.world_size} x {cfg.accum_steps}); change --batch-size or --accum-steps"
            )
        micro_batch = cfg.batch_size // (self.ctx.world_size * cfg.accum_steps)
        workers = default_workers() if cfg.workers is None else cfg.workers
        #: a dense task (segment, detect): the model computes its own loss and scores (``dense.DenseModel``)
        self.dense = cfg.task != "classify"
        common = {"seed": cfg.seed, "world_size": self.ctx.world_size, "rank": self.ctx.rank, "workers": workers,
                  "pin_memory": self.ctx.device.type == "cuda",
                  "collate_fn": collate_dense if self.dense else None}  # fmt: skip
        self.train_loader = build_loader(train_set, micro_batch, train=True, **common)
        # a dense score (mIoU, mAP) is not a sum over images: every rank scores the whole validation set
        val_share = {"world_size": 1, "rank": 0} if self.dense else {}
        self.val_loader = build_loader(val_set, micro_batch, train=False, **{**common, **val_share})
        self.score_key = f"val_{HEADLINE[cfg.task]}" if self.dense else "val_top1"
        self.steps_per_epoch = len(self.train_loader) // cfg.accum_steps
        if self.steps_per_epoch == 0:
            raise ValueError(f"one epoch holds fewer than accum_steps={cfg.accum_steps} batches; lower it")

        self.memory_format = torch.channels_last if cfg.channels_last else torch.preserve_format
        self.model = model.to(self.ctx.device, memory_format=self.memory_format)
        self.ema = ModelEma(self.model, cfg.ema_decay) if cfg.ema else None
        if teacher is not None and getattr(teacher, "num_classes", self.num_classes) != self.num_classes:
            raise ValueError(f"the teacher predicts {teacher.num_classes} classes, the data has {self.num_classes}; "
                             "distil from a teacher trained on the same classes")  # fmt: skip
        self.teacher = Teacher(teacher, self.ctx.device) if teacher is not None else None
        self.net: nn.Module = self.model
        if self.ctx.distributed:
            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:
            self.net = compiled(self.net, self.ctx.device, warn=self.log)
        self.optimizer = build_optimizer(self.model, cfg.opt, cfg.lr, cfg.weight_decay, cfg.momentum)
        total = cfg.epochs * self.steps_per_epoch
        warmup = round(cfg.warmup_epochs * self.steps_per_epoch)
        if warmup > total * MAX_WARMUP:  # a short run (--epochs 1 with the default 1-epoch warm-up) must still learn
            warmup = int(total * MAX_WARMUP)
            asked = f"--warmup-epochs {cfg.warmup_epochs:g} would take {100 * cfg.warmup_epochs / cfg.epochs:.0f}%"
            self.log(f"warm-up shortened to {warmup} steps, {MAX_WARMUP:.0%} of this {total}-step run ({asked})")
        self.schedule = WarmupSchedule(
            self.optimizer, cfg.lr, total, warmup, kind=cfg.sched,
            min_lr=cfg.min_lr, warmup_lr=cfg.warmup_lr,
            decay_steps=max(1, round(cfg.decay_epochs * self.steps_per_epoch)), decay_rate=cfg.decay_rate,
        )  # fmt: skip
        mixing = cfg.mixup > 0 or cfg.cutmix > 0
        self.mixup = (
            Mixup(self.num_classes, cfg.mixup, cfg.cutmix, cfg.mixup_prob, cfg.mixup_switch_prob, cfg.label_smoothing)
            if mixing
            else None
        )
        self.state = TrainState()
        self.stop = StopRequest()
        self.validation_seconds: float | None = None  # the last validation's duration, for the time budget
        self.clock = PhaseClock()  # where this epoch's time goes (train/phases.py)
        self._whole_epoch_timed = False  # whether the clock saw this epoch from its first step
        self._timed_epochs: list[float] = []  # wall seconds of the whole epochs this process timed
        self._reserve = 0.0  # seconds of the time budget kept for the final validation
        self._budget_position = 0.0  # the schedule's furthest position under a time budget
        self._pending_losses: list[torch.Tensor] = []  # step losses not read yet (see SYNC_EVERY)
        self.saver = CheckpointSaver(self.output) if self.output is not None else None
        self._rng_to_restore: dict | None = None

    # ----- checkpoints -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "train_state": asdict(self.state),
            "rng": capture_rng(),
            "config": self.cfg.to_dict(),
            "meta": self.meta,
        }

    def load_state_dict(self, ckpt: dict) -> None:
        """Continue from a checkpoint; the RNG states are restored when training restarts."""
        if ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"not a training checkpoint of this version (format {ckpt.get('format')!r}); pass one written by "
                "`visionmlp train` (Trainer.state_dict)"
            )
        self.model.load_state_dict(ckpt["model"])
        if self.ema is not None:
            self.ema.load_state_dict(ckpt["ema"] if ckpt["ema"] is not None else ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.state = TrainState(**ckpt["train_state"])
        self._rng_to_restore = ckpt["rng"]

    def _save(self, is_best: bool = False) -> Path | None:
        if self._pending_losses:  # the saved running loss must be the one an uninterrupted run has
            self._flush_losses()
        if self.saver is None:
            return None
        bad = _first_nonfinite(self.model.named_parameters())
        if bad is not None:  # keep the last good checkpoint rather than overwrite it with diverged weights
            self._fail(f"parameter {bad}", "the weights diverged")
        return self.saver.save(self.state_dict(), is_best=is_best)

    # ----- training ----------------------------------------------------------------------------
    def fit(self) -> FitResult:
        cfg, st = self.cfg, self.state
        if self._rng_to_restore is not None:
            restore_rng(self._rng_to_restore)
            self._rng_to_restore = None
        logger = RunLogger(self.output, self.log)
        stopped, last_eval, checkpoint = None, None, None
        try:
            with self.stop, self._progress() as bar:
                while st.epoch < cfg.epochs and stopped is None:
                    stopped = self._train_epoch(bar, logger)
                    if stopped == "signal":
                        break
                    validated = self._validate(complete=stopped is None)
                    if validated is None:  # a stop request arrived during the validation
                        stopped = "signal"
                        break
                    last_eval, row = validated
                    logger.epoch(st.rows)
                    improved = row[self.score_key] > st.best_top1  # the task's headline score
                    if improved:
                        st.best_top1, st.best_epoch = row[self.score_key], row["epoch"]
                    checkpoint = self._save(is_best=improved)
                if stopped == "signal":
                    checkpoint = self._save()
                    self.log(f"stopped at step {st.global_step}; resume with --resume {checkpoint or '<run folder>'}")
        finally:
            logger.close()
        return FitResult(st, stopped, last_eval, checkpoint, self.ctx.is_main)

    def _train_epoch(self, bar: Progress, logger: RunLogger) -> str | None:
        cfg, st = self.cfg, self.state
        set_position(self.train_loader, st.epoch, st.step_in_epoch * cfg.accum_steps)
        batches = iter(self.train_loader)
        task = bar.add_task(f"epoch {st.epoch + 1}/{cfg.epochs}", total=self.steps_per_epoch,
                            completed=st.step_in_epoch, loss=float("nan"), rate=0.0)  # fmt: skip
        self.net.train()
        self._whole_epoch_timed = st.step_in_epoch == 0  # a resumed epoch's clock sees only its end
        images, start = 0, time.perf_counter()
        session_start, elapsed_before = start, st.elapsed
        stopped = None
        while st.step_in_epoch < self.steps_per_epoch:
            lr = self.schedule.set_step(self._schedule_position(elapsed_before + time.perf_counter() - session_start))
            with self.clock("data"):
                micro_batches = [next(batches) for _ in range(cfg.accum_steps)]
            loss = self._step(micro_batches)
            pause_point("step")
            images += cfg.batch_size
            st.elapsed = elapsed_before + time.perf_counter() - session_start
            if loss is not None:
                self._pending_losses.append(loss)
            sync = st.global_step % SYNC_EVERY == 0 or st.step_in_epoch == self.steps_per_epoch
            if sync and self._pending_losses:
                logger.step(st.global_step, {"loss": self._flush_losses(), "lr": lr})
            running = st.epoch_loss_sum / max(1, st.epoch_loss_count)
            bar.update(task, advance=1, loss=running, rate=images / max(1e-9, time.perf_counter() - start))
            self._reserve = self._validation_reserve(images, time.perf_counter() - start)
            over_budget = cfg.time_budget is not None and st.elapsed + self._reserve >= cfg.time_budget
            # one process decides alone every step; ranks agree through a collective, so only at sync points
            if (sync or not self.ctx.distributed) and self.ctx.any(self.stop.requested or over_budget):
                stopped = "signal" if self.ctx.any(self.stop.requested) else "time budget"
                break
            if cfg.checkpoint_every and st.global_step % cfg.checkpoint_every == 0:
                self._save()
        bar.remove_task(task)
        return stopped

    def _schedule_position(self, elapsed: float) -> float:
        """The step the schedule is at: the step count, or, under a time budget, the fraction spent of the time
        left for training (the budget less the reserve for the final validation) if that is further, so that
        the learning rate has decayed when training stops; it never moves back when the reserve changes."""
        step = float(self.state.global_step)
        if self.cfg.time_budget is not None:
            training_time = max(1e-9, self.cfg.time_budget - self._reserve)
            self._budget_position = max(self._budget_position, elapsed / training_time * self.schedule.total_steps)
            step = max(step, self._budget_position)
        return step

    def _flush_losses(self) -> float:
        """Read the losses of the steps since the last read (one device sync) into the epoch's running sum;
        returns the last step's loss."""
        st = self.state
        losses = torch.stack(self._pending_losses).float().cpu()
        self._pending_losses.clear()
        st.epoch_loss_sum += float(losses.sum())
        st.epoch_loss_count += len(losses)
        return float(losses[-1])

    def _step(self, micro_batches: list) -> torch.Tensor | None:
        """One optimizer step over ``accum_steps`` micro-batches; the mean loss (a tensor on the device, read
        at sync points only), or None if skipped.

        No loss is read here: a NaN/Inf loss makes the gradients NaN/Inf, which the gradient-norm check catches
        on the same step (and, after DDP's all-reduce, on every rank alike, with no collective of its own).
        """
        cfg, st = self.cfg, self.state
        self.optimizer.zero_grad(set_to_none=True)
        losses = []
        for i, (x, y) in enumerate(micro_batches):
            x = x.to(self.ctx.device, non_blocking=True, memory_format=self.memory_format)
            if not self.dense:  # dense targets stay a list of DenseTargets; the model's loss moves what it needs
                y = y.to(self.ctx.device, non_blocking=True)
            targets = None
            if self.mixup is not None:
                x, targets = self.mixup(x, y, sample_rng(cfg.seed, st.global_step, i, self.ctx.rank))
            last = i == len(micro_batches) - 1
            no_sync = self.net.no_sync() if self.ctx.distributed and not last else contextlib.nullcontext()
            with no_sync:
                with self.clock("forward"):
                    with autocast(self.ctx.device, self.precision.bf16):
                        logits = self.net(x)
                        taught = self.teacher(x) if self.teacher is not None else None  # the same mixed batch
                    if self.dense:
                        loss = self.model.loss(logits, y)
                    elif targets is not None:
                        loss = soft_target_cross_entropy(logits, targets)
                    else:
                        loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
                    if taught is not None:
                        distilled = distillation_loss(logits, taught, cfg.distill, cfg.distill_tau)
                        loss = (1 - cfg.distill_alpha) * loss + cfg.distill_alpha * distilled
                with self.clock("backward"):
                    (loss / len(micro_batches)).backward()
            losses.append(loss.detach())
        st.global_step += 1
        st.step_in_epoch += 1
        loss = torch.stack(losses).mean()
        with self.clock("optimizer"):
            culprit = self._check_gradients(loss)
            if culprit is not None:
                return self._skip_batch(culprit)
            self.optimizer.step()
        if self.ema is not None:
            with self.clock("ema"):
                self.ema.update(self.model)
        return loss

    def _check_gradients(self, loss: torch.Tensor) -> str | None:
        """Clip the gradient norm if asked; when the norm is NaN/Inf, name the culprit: this process's loss if it
        is NaN/Inf, else the first NaN/Inf gradient.

        The norm is one fused reduction (clipping computes it anyway); after DDP's all-reduce every rank
        holds the same gradients, so all of them reach the same verdict without a collective.
        """
        params = [p for p in self.model.parameters() if p.grad is not None]
        if not params:
            return None
        if self.cfg.clip_grad is not None:
            norm = nn.utils.clip_grad_norm_(params, self.cfg.clip_grad)
        else:
            norm = nn.utils.get_total_norm([p.grad for p in params])
        if math.isfinite(norm.item()):
            return None
        if not math.isfinite(loss.item()):
            return "the loss"
        grads = ((name, p.grad) for name, p in self.model.named_parameters() if p.grad is not None)
        return f"the gradient of {_first_nonfinite(grads)}"

    def _skip_batch(self, culprit: str) -> None:
        """Drop the step's gradients; give up when the weights diverged or the skips run out."""
        st = self.state
        st.skipped_batches += 1
        self.optimizer.zero_grad(set_to_none=True)
        diverged = _first_nonfinite(self.model.named_parameters())
        if diverged is not None:
            self._fail(f"parameter {diverged}", "the weights diverged at an earlier step, so skipping cannot help")
        if st.skipped_batches > self.cfg.skip_nonfinite:
            self._fail(culprit, f"--skip-nonfinite allows {self.cfg.skip_nonfinite} skipped batches")
        self.log(f"warning: {culprit} is NaN/Inf at {self._where()}; batch skipped "
                 f"({st.skipped_batches}/{self.cfg.skip_nonfinite})")  # fmt: skip

    def _where(self) -> str:
        st = self.state
        return f"step {st.global_step} (epoch {st.epoch + 1}, batch {st.step_in_epoch} of {self.steps_per_epoch})"

    def _fail(self, culprit: str, why: str) -> None:
        kept = self.output / LAST if self.output is not None and (self.output / LAST).is_file() else None
        checkpoint = f"the last good checkpoint {kept} is kept" if kept else "no checkpoint was written"
        raise NonFiniteLossError(
            f"{culprit} is NaN/Inf at {self._where()}: {why}; {checkpoint}. Lower the learning rate or set "
            "--clip-grad, then resume or restart"
        )

    def _validate(self, complete: bool) -> tuple[EvalResult, dict] | None:
        """Evaluate and record a summary row; a complete epoch also moves the counters to the next one
        (an epoch cut short by the time budget keeps its position, so the run can be resumed). The time it takes
        counts in the time budget; None, with nothing recorded, when a stop request cuts it short."""
        cfg, st = self.cfg, self.state
        if self._pending_losses:
            self._flush_losses()
        sums = self.ctx.all_reduce_sum(torch.tensor([st.epoch_loss_sum, float(st.epoch_loss_count)]))
        train_loss = float(sums[0] / sums[1]) if sums[1] else float("nan")
        start = time.perf_counter()
        with self.clock("validation"):
            result = self.evaluate(self.model)
            ema_result = self.evaluate(self.ema.module) if self.ema is not None and result is not None else None
        seconds = time.perf_counter() - start
        st.elapsed += seconds
        if result is None or (self.ema is not None and ema_result is None):
            return None
        self.validation_seconds = seconds
        epoch = st.epoch + 1 if complete else round(st.epoch + st.step_in_epoch / self.steps_per_epoch, 3)
        row = {"epoch": epoch, "step": st.global_step, "lr": self.optimizer.param_groups[0]["lr"],
               "train_loss": train_loss}  # fmt: skip
        if self.dense:
            headline = HEADLINE[cfg.task]
            row.update({f"val_{k}": v for k, v in result.items() if isinstance(v, float)})
            message = f"{headline} {100 * result[headline]:.2f}%"
            if ema_result is not None:
                row.update({f"ema_{k}": v for k, v in ema_result.items() if isinstance(v, float)})
                message += f" (EMA {100 * ema_result[headline]:.2f}%)"
        else:
            row.update(val_loss=result.loss, val_top1=result.top1, val_top5=result.top5)
            message = f"val loss {result.loss:.4f}, top-1 {100 * result.top1:.2f}%"
            if ema_result is not None:
                row.update(ema_top1=ema_result.top1, ema_top5=ema_result.top5, ema_loss=ema_result.loss)
                message += f" (EMA {100 * ema_result.top1:.2f}%)"
        # threads and cpu: what the epoch's seconds cost in CPU time, and on which CPU (a run resumed with other
        # --threads or on another machine changes them)
        row.update(elapsed_s=round(st.elapsed, 2), skipped_batches=st.skipped_batches,
                   threads=torch.get_num_threads() * self.ctx.world_size, cpu=cpu_summary(),
                   **self.clock.columns())  # fmt: skip
        self.log(f"epoch {epoch}/{cfg.epochs}: train loss {train_loss:.4f}, {message}")
        ending, epochs_left = "", cfg.epochs - (st.epoch + 1)
        if complete and self._whole_epoch_timed:
            self._timed_epochs.append(self.clock.total)
        if complete and epochs_left > 0 and self._timed_epochs:
            budget_left = None if cfg.time_budget is None else cfg.time_budget - st.elapsed
            ending = f"; {time_left(self._timed_epochs, epochs_left, budget_left)} left at the median epoch's pace"
        self.log(f"  time: {self.clock.summary()}{ending}")
        self.clock.reset()
        st.rows.append(row)
        if complete:
            st.epoch += 1
            st.step_in_epoch, st.epoch_loss_sum, st.epoch_loss_count = 0, 0.0, 0
        return result, row

    def evaluate(self, model: nn.Module) -> EvalResult | dict | None:
        """The validation score, or None when a stop request arrives first (single process only: under DDP
        every rank must finish the evaluation's collectives, so a stop waits for its end). A dense task's model
        scores itself (a dict of its scores: ``dense.DenseModel.score``)."""
        if self.dense:
            return model.score(self.val_loader)
        stop = None if self.ctx.distributed else (lambda: self.stop.requested)
        return evaluate(model, self.val_loader, self.num_classes, self.ctx, amp=self.precision.bf16,
                        channels_last=self.cfg.channels_last, should_stop=stop)  # fmt: skip

    def _validation_reserve(self, trained_images: int, train_seconds: float) -> float:
        """Seconds to keep in the time budget for the validation that ends the run: the last one's duration, or
        before any, an estimate from this session's training rate (a forward pass costs about a third of a
        training step per image; the EMA copy is evaluated too)."""
        if self.validation_seconds is not None:
            return self.validation_seconds
        if not trained_images:
            return 0.0
        passes = 2 if self.ema is not None else 1
        return passes * len(self.val_loader.sampler) * train_seconds / trained_images / 3

    def _progress(self) -> Progress:
        columns = (
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  {task.fields[rate]:.0f} img/s"), TimeElapsedColumn(),
            TimeRemainingColumn(),
        )  # fmt: skip
        return Progress(*columns, disable=not (self.cfg.progress and self.ctx.is_main), transient=True)


def _first_nonfinite(named: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first tensor holding a NaN or an Inf, or None."""
    return next((name for name, t in named if not torch.isfinite(t).all()), None)

"""Schedules, EMA, weight-decay groups, non-finite losses, stop requests."""

import copy
import math
import time

import pytest
import torch
from torch import nn

from visionmlp import create_model
from visionmlp.data import build_dataset
from visionmlp.train import (
    ModelEma,
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    WarmupSchedule,
    load_checkpoint,
    param_groups,
)
from visionmlp.train.optim import build_optimizer
from visionmlp.train.phases import PHASES, time_left

TINY = {"embed_dim": 16, "num_blocks": 1, "tokens_mlp_dim": 8, "channels_mlp_dim": 16}


def _opt():
    return torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)


def test_warmup_then_cosine():
    s = WarmupSchedule(_opt(), 1.0, total_steps=110, warmup_steps=10, min_lr=0.1, warmup_lr=0.0)
    assert s.lr_at(0) == 0.0 and s.lr_at(5) == pytest.approx(0.5) and s.lr_at(10) == pytest.approx(1.0)
    assert s.lr_at(60) == pytest.approx(0.1 + 0.9 * 0.5)  # half way through the cosine
    assert s.lr_at(110) == pytest.approx(0.1) and s.lr_at(500) == pytest.approx(0.1)
    assert s.lr_at(35) == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 0.25)))
    assert s.set_step(5) == s.optimizer.param_groups[0]["lr"]


def test_step_schedule():
    s = WarmupSchedule(_opt(), 1.0, total_steps=100, warmup_steps=0, kind="step", decay_steps=30, decay_rate=0.1)
    assert [s.lr_at(t) for t in (0, 29, 30, 65)] == pytest.approx([1.0, 1.0, 0.1, 0.01])


def test_ema_update():
    model = nn.Linear(2, 1)
    ema = ModelEma(model, decay=0.75)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(4.0)
    ema.update(model)
    assert torch.allclose(ema.module.weight, 0.75 * start + 0.25 * (start + 4.0))
    assert not ema.module.weight.requires_grad


def test_weight_decay_groups():
    model = create_model("vit_s4_28", embed_dim=16, depth=1, num_heads=2)
    decay, no_decay = param_groups(model, 0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    undecayed = {names[id(p)] for p in no_decay["params"]}
    assert {"cls_token", "pos_embed"} <= undecayed
    assert all(n.endswith(".bias") or "norm" in n or n in ("cls_token", "pos_embed") for n in undecayed)
    assert all(p.ndim > 1 for p in decay["params"]) and decay["weight_decay"] == 0.05
    assert no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_optimizer_uses_fused_kernel_with_the_same_steps(name):
    """CPU float parameters get PyTorch's fused kernel; it takes the steps the per-tensor loop takes. (A plain
    MLP: in a ViT the key bias has an exactly-zero gradient, whose rounding noise Adam amplifies to +-lr.)"""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.LayerNorm(32), nn.GELU(), nn.Linear(32, 10))
    twin = copy.deepcopy(model)
    fused = build_optimizer(model, name, lr=0.01, weight_decay=0.05)
    assert fused.defaults["fused"] is True
    groups = param_groups(twin, 0.05)
    loop = (torch.optim.AdamW(groups, lr=0.01, foreach=False) if name == "adamw"
            else torch.optim.SGD(groups, lr=0.01, momentum=0.9, nesterov=True, foreach=False))  # fmt: skip
    x = torch.randn(4, 1, 28, 28)
    for _ in range(3):
        for net, opt in ((model, fused), (twin, loop)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for (key, a), b in zip(model.state_dict().items(), twin.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=key)


class _NaNAt(nn.Module):
    """Wraps a model and returns NaN logits on the given forward calls (1-based)."""

    def __init__(self, model, calls):
        super().__init__()
        self.model, self.calls, self.count = model, set(calls), 0

    def forward(self, x):
        self.count += 1
        out = self.model(x)
        return out * float("nan") if self.count in self.calls else out


class _InfGrad(torch.autograd.Function):
    """Identity forward; an Inf gradient backward: a finite loss whose gradients are not."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


class _Poison(_NaNAt):
    """Like _NaNAt, but on the given calls either the gradient becomes Inf ("grad") or a weight becomes
    NaN before the forward pass ("weight", as if an earlier step had diverged)."""

    def __init__(self, model, calls, kind):
        super().__init__(model, calls)
        self.kind = kind

    def forward(self, x):
        self.count += 1
        if self.count not in self.calls:
            return self.model(x)
        if self.kind == "weight":
            with torch.no_grad():
                self.model.stem.proj.weight[0, 0, 0, 0] = float("nan")
            return self.model(x)
        return _InfGrad.apply(self.model(x))


def _trainer(model, output=None, **overrides):
    cfg = TrainConfig(**{"epochs": 1, "batch_size": 16, "workers": 0, "progress": False, "warmup_epochs": 0,
                         **overrides})  # fmt: skip
    train = build_dataset("synthetic", "train").limit(64)
    val = build_dataset("synthetic", "val").limit(16)
    return Trainer(cfg, model, train, val, output=output, log=lambda _m: None)


def test_nan_loss_stops_naming_the_step():
    torch.manual_seed(0)
    trainer = _trainer(_NaNAt(create_model("mixer_s4_28", **TINY), {2}))
    with pytest.raises(NonFiniteLossError, match=r"NaN/Inf at step 2 \(epoch 1, batch 2 of 4\)"):
        trainer.fit()


def test_nan_loss_skipped_when_allowed():
    torch.manual_seed(0)
    trainer = _trainer(_NaNAt(create_model("mixer_s4_28", **TINY), {2}), skip_nonfinite=1)
    result = trainer.fit()
    assert result.state.skipped_batches == 1 and result.state.global_step == 4
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_nan_skips_run_out():
    torch.manual_seed(0)
    trainer = _trainer(_NaNAt(create_model("mixer_s4_28", **TINY), {2, 3}), skip_nonfinite=1)
    with pytest.raises(NonFiniteLossError, match=r"the loss is NaN/Inf at step 3 .*--skip-nonfinite allows 1 skipped"):
        trainer.fit()
    assert trainer.state.skipped_batches == 2


def test_nonfinite_gradient_is_named_and_skipped():
    torch.manual_seed(0)
    trainer = _trainer(_Poison(create_model("mixer_s4_28", **TINY), {2}, "grad"))
    with pytest.raises(NonFiniteLossError, match=r"the gradient of model\.\S+ is NaN/Inf at step 2 "):
        trainer.fit()
    torch.manual_seed(0)
    trainer = _trainer(_Poison(create_model("mixer_s4_28", **TINY), {2}, "grad"), skip_nonfinite=1, clip_grad=1.0)
    assert trainer.fit().state.skipped_batches == 1
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_diverged_weights_stop_at_once_and_keep_the_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    # 4 steps per epoch, then 1 validation forward: call 7 is step 2 of epoch 2.
    model = _Poison(create_model("mixer_s4_28", **TINY), {7}, "weight")
    trainer = _trainer(model, output=tmp_path, epochs=2, skip_nonfinite=10)
    last = tmp_path / "last.pth"
    pattern = rf"parameter model\.stem\.proj\.weight is NaN/Inf at step 6 .*skipping cannot help.*{last} is kept"
    with pytest.raises(NonFiniteLossError, match=pattern):
        trainer.fit()
    ckpt = load_checkpoint(tmp_path)
    assert ckpt["train_state"]["global_step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_config_rejects_unknown_and_bad_values():
    with pytest.raises(ValueError, match="unknown setting"):
        TrainConfig.from_dict({"lr": 1e-3, "learning_rate": 1})
    with pytest.raises(ValueError, match="opt must be one of"):
        TrainConfig.from_dict({"opt": "lamb"})


def test_a_stop_during_validation_ends_it_saves_and_resumes_to_the_same_end(tmp_path):
    """SIGINT no longer waits for a whole validation: the run saves with the epoch trained but not yet validated,
    and a resumed run validates it and goes on."""
    torch.manual_seed(0)
    trainer = _trainer(create_model("mixer_s4_28", **TINY), output=tmp_path, epochs=2)
    real = trainer.evaluate

    def interrupted(model):
        trainer.stop.request()  # as the SIGINT handler does, while the validation runs
        return real(model)

    trainer.evaluate = interrupted
    result = trainer.fit()
    assert result.stopped == "signal" and result.last_eval is None and trainer.state.rows == []
    saved = load_checkpoint(tmp_path)["train_state"]
    assert (saved["epoch"], saved["step_in_epoch"], saved["global_step"]) == (0, 4, 4)  # trained, not validated
    resumed = _trainer(create_model("mixer_s4_28", **TINY), output=tmp_path, epochs=2)
    resumed.load_state_dict(load_checkpoint(tmp_path))
    done = resumed.fit()
    assert done.stopped is None and [row["epoch"] for row in done.state.rows] == [1, 2]
    assert done.state.global_step == 8  # no step was repeated or lost


def test_the_time_budget_counts_validation_and_keeps_time_for_the_last_one(monkeypatch):
    """Validation here takes 0.4 s (slowed on purpose) against a 2 s budget: it is counted, and training stops
    early enough that the final validation fits, instead of starting it at the budget's end."""
    torch.manual_seed(0)
    trainer = _trainer(create_model("mixer_s4_28", **TINY), epochs=1000, time_budget=2.0)
    real = trainer.evaluate

    def slow(model):
        time.sleep(0.4)
        return real(model)

    trainer.evaluate = slow
    result = trainer.fit()
    assert result.stopped == "time budget"
    validations = len(result.state.rows)
    assert result.state.elapsed >= 0.4 * validations  # every validation counted
    assert result.state.elapsed < 2.0 + 0.4  # never a whole validation past the budget


def test_every_epoch_says_where_its_time_went():
    said = []
    torch.manual_seed(0)
    trainer = _trainer(create_model("mixer_s4_28", **TINY), epochs=2, ema=True)
    trainer.log = said.append
    result = trainer.fit()
    for row in result.state.rows:
        spent = [row[f"{phase}_s"] for phase in PHASES]
        assert all(s >= 0 for s in spent) and row["forward_s"] > 0 and row["validation_s"] > 0 and row["ema_s"] > 0
        assert sum(spent) <= row["elapsed_s"] + 0.05  # the phases are parts of the run's time, not more
    lines = [line for line in said if line.startswith("  time: ")]
    assert len(lines) == 2 and all(phase in lines[0] for phase in PHASES)
    assert "left at the median epoch's pace" in lines[0] and "left" not in lines[1]  # the last epoch has nothing left


def test_time_left_reads_in_hours_and_minutes_and_respects_a_budget():
    assert time_left([76.0], 52) == "about 1 h 06 min"
    assert time_left([76.0], 3) == "about 4 min"
    assert time_left([20.0], 1) == "under a minute"
    assert time_left([76.0], 52, budget_left=600.0) == "about 10 min"  # the budget ends the run first


def test_time_left_is_not_thrown_by_one_paused_epoch():
    assert time_left([76.0, 417.0, 78.0], 52) == "about 1 h 08 min"  # the median, 78 s, not the paused 417 s


def test_the_loss_is_read_at_sync_points_only(monkeypatch):
    """Reading the loss syncs a GPU: it happens every SYNC_EVERY steps and at the epoch's end, and the epoch's mean
    loss is still that of every step."""
    from visionmlp.train import loop

    monkeypatch.setattr(loop, "SYNC_EVERY", 3)
    reads, seen = [], []
    original = loop.Trainer._flush_losses

    def counting(self):
        seen.extend(float(v) for v in self._pending_losses)
        reads.append(self.state.global_step)
        return original(self)

    monkeypatch.setattr(loop.Trainer, "_flush_losses", counting)
    torch.manual_seed(0)
    trainer = _trainer(create_model("mixer_s4_28", **TINY), batch_size=8)  # 8 steps
    result = trainer.fit()
    assert reads == [3, 6, 8]
    assert result.state.rows[0]["train_loss"] == pytest.approx(sum(seen) / len(seen))

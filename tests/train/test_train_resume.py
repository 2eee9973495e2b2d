"""Exact resumption: N steps straight == N/2 steps, stop (as on SIGINT), resume, the rest — bit for bit."""

import torch

from visionmlp import create_model
from visionmlp.data import build_dataset, build_train_transform
from visionmlp.train import TrainConfig, Trainer, load_checkpoint

TINY = {"embed_dim": 16, "num_blocks": 1, "tokens_mlp_dim": 8, "channels_mlp_dim": 16, "drop_path_rate": 0.2,
        "drop_rate": 0.1}  # fmt: skip
# Everything random is on: augmentation, mixup/cutmix, drop-path, dropout; plus EMA and accumulation.
CFG = {"epochs": 2, "batch_size": 16, "accum_steps": 2, "workers": 0, "progress": False, "ema": True,
       "ema_decay": 0.9, "mixup": 0.8, "cutmix": 1.0, "aa": "rand-m9-mstd0.5-inc1", "reprob": 0.25,
       "warmup_epochs": 0.5, "clip_grad": 1.0}  # fmt: skip


def _trainer(output):
    torch.manual_seed(0)
    cfg = TrainConfig(**CFG)
    model = create_model("mixer_s4_28", num_classes=10, **TINY)
    train = build_dataset("synthetic", "train").limit(32)
    train.transform = build_train_transform((1, 28, 28), (0.5,), (0.5,), scale=(0.5, 1), auto_augment=cfg.aa,
                                            reprob=cfg.reprob)  # fmt: skip
    val = build_dataset("synthetic", "val").limit(16)
    return Trainer(cfg, model, train, val, output=output, log=lambda _m: None)


def _stop_after(trainer, steps):
    step = trainer._step

    def stepping(batches):
        loss = step(batches)
        if trainer.state.global_step == steps:
            trainer.stop.request()
        return loss

    trainer._step = stepping


def test_resume_mid_epoch_is_bit_identical(tmp_path):
    straight = _trainer(tmp_path / "straight")
    assert straight.steps_per_epoch == 2
    straight.fit()

    first = _trainer(tmp_path / "resumed")
    _stop_after(first, 3)  # mid-epoch: epoch 2, step 1 of 2
    result = first.fit()
    assert result.stopped == "signal" and (result.state.epoch, result.state.step_in_epoch) == (1, 1)

    torch.manual_seed(1234)  # the resumed process starts from another RNG state; the checkpoint restores it
    torch.rand(7)
    second = _trainer(tmp_path / "resumed")
    second.load_state_dict(load_checkpoint(tmp_path / "resumed"))
    second.fit()

    assert second.state.global_step == straight.state.global_step == 4
    for (name, a), b in zip(straight.model.state_dict().items(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for a, b in zip(straight.ema.state_dict().values(), second.ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    timeless = [
        [{k: v for k, v in row.items() if not k.endswith("_s")} for row in t.state.rows] for t in (straight, second)
    ]
    assert timeless[0] == timeless[1]
    summary = (tmp_path / "resumed" / "summary.csv").read_text().splitlines()
    assert len(summary) == 3 and summary[0].startswith("epoch,step,lr,train_loss")
    assert (tmp_path / "resumed" / "best.pth").is_file()

"""Knowledge distillation: the loss, a frozen teacher on the student's batches, exact resume with a teacher, and
the command line."""

import copy

import pytest
import torch
import torch.nn.functional as F

from visionmlp import create_model
from visionmlp.cli import main
from visionmlp.data import build_dataset
from visionmlp.train import TrainConfig, Trainer, load_checkpoint
from visionmlp.train.distill import distillation_loss

TINY = {"embed_dim": 16, "num_blocks": 1, "tokens_mlp_dim": 8, "channels_mlp_dim": 16}
TINY_FLAG = "{embed_dim: 16, num_blocks: 1, tokens_mlp_dim: 8, channels_mlp_dim: 16}"
QUICK = ["--data", "synthetic", "--epochs", "1", "--batch-size", "16", "--limit-train", "32", "--limit-val", "16",
         "--workers", "0", "--no-progress", "--model-kwargs", TINY_FLAG]  # fmt: skip


def test_soft_loss_is_the_tempered_kl_and_hard_the_argmax_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    tau = 3.0
    p_teacher = F.softmax(teacher / tau, -1)
    manual = (p_teacher * (p_teacher.log() - F.log_softmax(student / tau, -1))).sum(-1).mean() * tau**2
    torch.testing.assert_close(distillation_loss(student, teacher, "soft", tau), manual)
    assert distillation_loss(teacher, teacher, "soft", tau).abs() < 1e-6  # agreeing with the teacher costs nothing
    torch.testing.assert_close(distillation_loss(student, teacher, "hard", tau),
                               F.cross_entropy(student, teacher.argmax(-1)))  # fmt: skip
    with pytest.raises(ValueError, match="distill must be one of soft, hard"):
        distillation_loss(student, teacher, "medium", tau)


def _trainer(output=None, teacher=None, **overrides):
    torch.manual_seed(0)
    cfg = TrainConfig(**{"epochs": 2, "batch_size": 16, "workers": 0, "progress": False, "mixup": 0.8, "amp": False,
                         "distill_alpha": 0.7, "distill_tau": 2.0, **overrides})  # fmt: skip
    train, val = build_dataset("synthetic", "train").limit(32), build_dataset("synthetic", "val").limit(16)
    model = create_model("mixer_s4_28", **TINY, drop_path_rate=0.1)
    return Trainer(cfg, model, train, val, output=output, log=lambda _m: None, teacher=teacher)


def _teacher():
    torch.manual_seed(5)
    return create_model("mixer_s4_28", **TINY)


def test_the_teacher_stays_frozen_and_changes_what_the_student_learns():
    teacher = _teacher()
    before = copy.deepcopy(teacher.state_dict())
    taught = _trainer(teacher=teacher)
    taught.fit()
    assert not taught.teacher.model.training
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())
    plain = _trainer()
    plain.fit()
    assert any(not torch.equal(a, b) for a, b in zip(taught.model.parameters(), plain.model.parameters(), strict=True))


def test_resume_with_a_teacher_is_bit_identical(tmp_path):
    straight = _trainer(tmp_path / "straight", teacher=_teacher())
    straight.fit()
    first = _trainer(tmp_path / "resumed", teacher=_teacher())
    step = first._step

    def stepping(batches):
        loss = step(batches)
        if first.state.global_step == 3:
            first.stop.request()
        return loss

    first._step = stepping
    assert first.fit().stopped == "signal"
    torch.manual_seed(99)
    second = _trainer(tmp_path / "resumed", teacher=_teacher())
    second.load_state_dict(load_checkpoint(tmp_path / "resumed"))
    second.fit()
    assert second.state.global_step == straight.state.global_step == 4
    for a, b in zip(straight.model.state_dict().values(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_teacher_of_other_classes_is_refused():
    with pytest.raises(ValueError, match="the teacher predicts 3 classes, the data has 10"):
        _trainer(teacher=create_model("mixer_s4_28", num_classes=3, **TINY))


def test_distillation_from_the_command_line(tmp_path, capsys):
    teacher_run, student_run = tmp_path / "teacher", tmp_path / "student"
    assert main(["train", "--model", "mixer_s4_28", *QUICK, "--output", str(teacher_run)]) == 0
    argv = ["train", "--model", "mixer_s4_28", *QUICK, "--output", str(student_run), "--teacher", str(teacher_run),
            "--distill", "hard", "--distill-alpha", "0.5"]  # fmt: skip
    assert main(argv) == 0
    assert f"distilling from {teacher_run} (mixer_s4_28, " in capsys.readouterr().out
    config = load_checkpoint(student_run)["config"]
    assert (config["teacher"], config["distill"], config["distill_alpha"]) == (str(teacher_run), "hard", 0.5)
    weights = tmp_path / "plain.pth"
    torch.save(load_checkpoint(teacher_run)["model"], weights)  # a bare state dict, as official files are
    assert main(["train", "--model", "mixer_s4_28", *QUICK, "--output", str(tmp_path / "x"), "--teacher",
                 str(weights)]) == 2  # fmt: skip
    assert "also pass --teacher-model NAME" in capsys.readouterr().err
    full = tmp_path / "full.pth"
    torch.save(create_model("mixer_s4_28").state_dict(), full)  # another architecture than the student: allowed
    argv = ["train", "--model", "mixer_s4_28", *QUICK, "--output", str(tmp_path / "y"), "--teacher", str(full),
            "--teacher-model", "mixer_s4_28", "--distill-tau", "2"]  # fmt: skip
    assert main(argv) == 0
    assert "(mixer_s4_28, 558,158 params): soft, alpha 0.5, tau 2" in capsys.readouterr().out


def test_the_projects_shipped_weights_are_a_teacher_by_tag(tmp_path, capsys):
    """A recipe distilled from the shipped CNN needs no run folder of it, so it trains in any checkout."""
    argv = ["train", "--model", "mixer_s4_28", *QUICK, "--output", str(tmp_path / "s"), "--teacher",
            "resnet_s2_28.fashion_mnist", "--distill", "hard"]  # fmt: skip
    assert main(argv) == 0
    assert "distilling from resnet_s2_28.fashion_mnist (resnet_s2_28, 701,178 params): hard" in capsys.readouterr().out

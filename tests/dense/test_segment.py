"""Semantic FPN over pyramid and isotropic backbones at odd and non-square sizes, and the mIoU it is scored by:
a perfect prediction scores 1.0, a known confusion what the formula says."""

import pytest
import torch

import visionmlp
from visionmlp.dense import ConfusionMatrix, SemanticFPN, segmentation_scores
from visionmlp.models import get_entry


@pytest.mark.parametrize(
    "name, size",
    [("resnet18", (70, 54)), ("convmlp_s4_28", (61, 45)), ("cyclemlp_s4_28", (48, 80)), ("mixer_s4_28", (28, 28))],
)
def test_logits_at_the_input_size(name, size):
    torch.manual_seed(0)
    kwargs = {**get_entry(name).tiny, "in_chans": 1}
    backbone = visionmlp.create_model(name, **kwargs, features_only=True)
    head = SemanticFPN(backbone, num_classes=11, fpn_channels=16, channels=8)
    x = torch.randn(2, 1, *size)
    logits = head(x)
    assert logits.shape == (2, 11, *size)
    logits.float().logsumexp(1).mean().backward()
    assert head.classifier.weight.grad is not None  # gradients reach the head and the backbone
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_a_few_steps_fit_one_batch():
    torch.manual_seed(0)
    backbone = visionmlp.create_model("convmlp_s4_28", **get_entry("convmlp_s4_28").tiny, features_only=True)
    head = SemanticFPN(backbone, num_classes=3, fpn_channels=16, channels=8)
    x = torch.randn(4, 1, 32, 32)
    target = (x[:, 0] > 0.5).long() + (x[:, 0] > 1.5).long()
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(head(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_miou_of_a_perfect_prediction_is_one():
    target = torch.randint(0, 4, (2, 9, 7))
    matrix = ConfusionMatrix(4)
    matrix.update(target, target)
    scores = matrix.scores()
    assert scores.miou == 1.0 and scores.pixel_accuracy == 1.0


def test_miou_follows_the_formula():
    matrix = ConfusionMatrix(3, ignore_index=255)
    matrix.update(torch.tensor([0, 1, 1, 1, 2]), torch.tensor([0, 0, 1, 1, 255]))
    scores = matrix.scores()
    # class 0: TP 1, FN 1 -> 1/2; class 1: TP 2, FP 1 -> 2/3; class 2 occurs in neither (the 2 was ignored)
    assert scores.iou == [0.5, 2 / 3, None]
    assert scores.miou == pytest.approx(7 / 12) and scores.pixel_accuracy == pytest.approx(3 / 4)
    assert segmentation_scores(matrix.matrix) == scores


def test_bad_predictions_are_named():
    matrix = ConfusionMatrix(3)
    with pytest.raises(ValueError, match="differ in shape"):
        matrix.update(torch.zeros(2, 3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"class indices must lie in 0\.\.2"):
        matrix.update(torch.tensor([3]), torch.tensor([0]))

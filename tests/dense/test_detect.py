"""FCOS: the box arithmetic and NMS, the targets a box gives, a loss that trains, decoding, and COCO mAP (a perfect
prediction scores 1.0; a shifted box scores what the IoU thresholds say)."""

import pytest
import torch

import visionmlp
from visionmlp.dense.boxes import batched_nms, box_iou, generalized_iou, nms
from visionmlp.dense.detect import FCOS, LevelOutput, Locations, fcos_detect, fcos_loss, fcos_targets
from visionmlp.models import get_entry


def test_iou_and_giou_follow_their_formulas():
    a = torch.tensor([[0.0, 0, 10, 10]])
    b = torch.tensor([[5.0, 0, 15, 10], [20, 20, 30, 30]])
    assert torch.allclose(box_iou(a, b), torch.tensor([[50 / 150, 0.0]]))
    # disjoint: IoU 0, enclosing box 30x30 = 900, union 200 -> 0 - 700/900
    assert torch.allclose(generalized_iou(a, b[1:]), torch.tensor([-700 / 900]))
    assert torch.allclose(generalized_iou(a, a), torch.ones(1))


def test_nms_keeps_the_best_of_overlapping_boxes_per_class():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert batched_nms(boxes, scores, torch.tensor([0, 0, 0, 1]), 0.5).tolist() == [0, 2, 3]


def _outputs(sizes, strides, classes=3):
    return [LevelOutput(torch.zeros(1, classes, h, w), torch.zeros(1, 4, h, w), torch.zeros(1, 1, h, w), s)
            for (h, w), s in zip(sizes, strides, strict=True)]  # fmt: skip


def test_a_box_trains_the_locations_near_its_centre_on_its_level():
    outputs = _outputs([(32, 32), (16, 16)], [4, 8])  # ranges: stride 4 up to 32 px, stride 8 above
    small, large = torch.tensor([[8.0, 8, 28, 24]]), torch.tensor([[0.0, 0, 100, 100]])
    t = fcos_targets(Locations.of(outputs), small, torch.tensor([2]))
    positive = (t.labels >= 0).nonzero().squeeze(1)
    assert len(positive) > 0 and (positive < 1024).all() and (t.labels[positive] == 2).all()  # all on level 0
    assert ((t.centerness[positive] > 0) & (t.centerness[positive] <= 1)).all()
    t = fcos_targets(Locations.of(outputs), large, torch.tensor([1]))
    positive = (t.labels >= 0).nonzero().squeeze(1)
    assert len(positive) > 0 and (positive >= 1024).all()  # near its centre every side is ~50 px > 32: level 1
    empty = fcos_targets(Locations.of(outputs), torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert (empty.labels == -1).all()


def test_decoding_a_confident_location_gives_its_box():
    outputs = _outputs([(8, 8)], [8])
    outputs[0].logits.fill_(-10)
    outputs[0].logits[0, 1, 2, 3] = 10  # class 1 at the cell whose centre is (3 * 8 + 4, 2 * 8 + 4) = (28, 20)
    outputs[0].centerness.fill_(10)
    outputs[0].distances[0, :, 2, 3] = torch.tensor([8.0, 6, 10, 12])
    (found,) = fcos_detect(outputs, (64, 64))
    assert found.labels.tolist() == [1]
    assert torch.allclose(found.boxes, torch.tensor([[20.0, 14, 38, 32]]))


def test_loss_trains_on_one_batch():
    torch.manual_seed(0)
    backbone = visionmlp.create_model("convmlp_s4_28", **get_entry("convmlp_s4_28").tiny, features_only=True)
    model = FCOS(backbone, num_classes=3, channels=16, tower_depth=1)
    x = torch.zeros(2, 1, 48, 48)
    x[0, :, 8:24, 10:30] = 1
    x[1, :, 20:44, 4:28] = 1
    boxes = [torch.tensor([[10.0, 8, 30, 24]]), torch.tensor([[4.0, 20, 28, 44]])]
    labels = [torch.tensor([0]), torch.tensor([2])]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(20):
        losses = fcos_loss(model(x), boxes, labels)
        assert all(torch.isfinite(v) for v in losses.values())
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        first = first if first is not None else losses["loss"].item()
    assert losses["loss"].item() < 0.6 * first
    no_boxes = fcos_loss(model(x), [torch.zeros(0, 4)] * 2, [torch.zeros(0, dtype=torch.long)] * 2)
    assert no_boxes["regression"] == 0 and torch.isfinite(no_boxes["loss"])


def test_coco_map_of_perfect_and_shifted_boxes():
    pytest.importorskip("pycocotools", reason="the dense extra (pycocotools) is not installed")
    from visionmlp.dense.coco_map import coco_map
    from visionmlp.dense.detect import Detections

    truth = [torch.tensor([[10.0, 10, 60, 60], [70, 10, 90, 40]]), torch.tensor([[5.0, 5, 45, 35]])]
    labels = [torch.tensor([0, 3]), torch.tensor([3])]
    perfect = [Detections(b, torch.ones(len(b)), c) for b, c in zip(truth, labels, strict=True)]
    assert coco_map(perfect, truth, labels) == {"map": 1.0, "map50": 1.0}
    # One box alone, shifted right by 12 of its 50 pixels: IoU = 38 * 50 / (62 * 50) = 0.613, which passes the
    # thresholds 0.50, 0.55, 0.60 of the ten: mAP@[.5:.95] = 3/10, mAP@.5 = 1.
    shifted = [Detections(torch.tensor([[22.0, 10, 72, 60]]), torch.ones(1), torch.tensor([0]))]
    scores = coco_map(shifted, [truth[0][:1]], [labels[0][:1]])
    assert scores["map50"] == pytest.approx(1.0) and scores["map"] == pytest.approx(0.3)

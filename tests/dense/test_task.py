"""A backbone and a dense head as one model on Fashion-MNIST mosaics: the loss trains, predictions have the task's
form, the scores come out in range, and a batch of mixed sizes is named."""

import pytest
import torch

import visionmlp
from helpers.fake_data import squares_fashion_mnist
from visionmlp.data import FashionMnistMosaic
from visionmlp.dense import DenseModel, collate_dense, evaluate_dense
from visionmlp.models import get_entry


@pytest.fixture(scope="module")
def mosaics(tmp_path_factory):
    root = squares_fashion_mnist(tmp_path_factory.mktemp("fmnist"))
    data = FashionMnistMosaic("train", size=(64, 64), count=8, objects=(1, 2), scale=(0.75, 1.25), root=root)
    return [collate_dense([data[i] for i in range(k, k + 4)]) for k in (0, 4)]


def _model(task):
    torch.manual_seed(0)
    backbone = visionmlp.create_model("convmlp_s4_28", **get_entry("convmlp_s4_28").tiny, features_only=True)
    head = dict(fpn_channels=16, channels=8) if task == "segment" else dict(channels=16, tower_depth=1)
    return DenseModel(task, backbone, num_classes=11 if task == "segment" else 10, **head)


@pytest.mark.parametrize("task", ["segment", "detect"])
def test_a_dense_model_trains_and_scores(mosaics, task):
    model = _model(task)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    images, targets = mosaics[0]
    losses = []
    for _ in range(12):
        loss = model.loss(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    predictions = model.predict(images)
    if task == "segment":
        assert predictions[0].shape == (64, 64)
        scores = evaluate_dense(model, mosaics)
        assert 0 <= scores["miou"] <= 1 and len(scores["iou"]) == 11
    else:
        assert hasattr(predictions[0], "boxes")
        pytest.importorskip("pycocotools", reason="the dense extra (pycocotools) is not installed")
        scores = evaluate_dense(model, mosaics)
        assert 0 <= scores["map"] <= scores["map50"] <= 1
    assert model.training  # scoring leaves the mode as it found it


def test_normalisation_and_errors():
    model = _model("segment")
    assert model.mean.shape == (1, 1, 1, 1) and "mean" not in model.state_dict()  # not saved: the backbone says it
    with pytest.raises(ValueError, match="unknown dense task 'classify'"):
        DenseModel("classify", model.head.pyramid.backbone, 3)
    with pytest.raises(ValueError, match="resize the images to one size"):
        collate_dense([(torch.zeros(1, 8, 8), None), (torch.zeros(1, 8, 9), None)])

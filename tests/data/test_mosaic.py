"""Fashion-MNIST mosaics: deterministic canvases whose class map, boxes and labels agree with the pixels, drawn only
from their own split's images."""

import pytest
import torch

from helpers.fake_data import squares_fashion_mnist
from visionmlp.data.mosaic import INK, MIN_VISIBLE, FashionMnistMosaic


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return squares_fashion_mnist(tmp_path_factory.mktemp("fmnist"))


def test_a_canvas_is_a_function_of_seed_split_and_index(fake_root):
    a = FashionMnistMosaic("train", count=8, root=fake_root)
    b = FashionMnistMosaic("train", count=8, root=fake_root)
    other = FashionMnistMosaic("train", count=8, seed=1, root=fake_root)
    for i in range(8):
        (x, t), (y, u) = a[i], b[i]
        assert torch.equal(x, y) and torch.equal(t.mask, u.mask) and torch.equal(t.boxes, u.boxes)
    assert any(not torch.equal(a[i][0], other[i][0]) for i in range(8))


def test_class_map_boxes_and_labels_agree_with_the_pixels(fake_root):
    data = FashionMnistMosaic("train", size=(80, 112), count=20, root=fake_root)
    for i in range(len(data)):
        image, target = data[i]
        assert image.shape == (1, 80, 112) and target.mask.shape == (80, 112)
        assert torch.equal(image[0] > 0, target.mask > 0)  # garment pixels only, each labelled
        assert len(target.boxes) == len(target.labels) >= 1
        for (x0, y0, x1, y1), label in zip(target.boxes.long().tolist(), target.labels.tolist(), strict=True):
            assert 0 <= x0 < x1 <= 112 and 0 <= y0 < y1 <= 80
            inside = target.mask[y0:y1, x0:x1] == label + 1
            assert inside.sum() >= MIN_VISIBLE
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()  # tight


def test_each_split_draws_from_its_own_images(fake_root):
    train = FashionMnistMosaic("train", count=6, root=fake_root)
    test = FashionMnistMosaic("test", count=6, root=fake_root)
    assert max(train[i][0].max() for i in range(6)) <= 100 / 255 + 1e-6
    assert min(test[i][0].max() for i in range(6)) > 150 / 255
    assert all(train[i][0][train[i][0] > 0].min() > INK / 255 for i in range(6))


def test_bad_arguments_are_named(fake_root):
    with pytest.raises(ValueError, match="cannot hold a garment scaled 1.75x"):
        FashionMnistMosaic("train", size=(40, 96), root=fake_root)
    with pytest.raises(ValueError, match="unknown split 'val'"):
        FashionMnistMosaic("val", root=fake_root)
    with pytest.raises(IndexError, match="out of range"):
        FashionMnistMosaic("test", count=2, root=fake_root)[2]

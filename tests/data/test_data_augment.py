"""Transforms, RandAugment strings and Mixup/CutMix targets."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from visionmlp.data import Mixup, build_eval_transform, build_train_transform, rand_augment_transform
from visionmlp.data.mixup import cutmix_box
from visionmlp.data.randaugment import RAND_INCREASING_TRANSFORMS, RAND_TRANSFORMS


def _image(mode="L", size=(28, 28)):
    g = torch.Generator().manual_seed(0)
    channels = 1 if mode == "L" else 3
    pixels = torch.randint(0, 256, (size[1], size[0], channels), generator=g, dtype=torch.uint8).numpy()
    return Image.fromarray(pixels[..., 0] if channels == 1 else pixels)


def test_rand_augment_parsing():
    ra = rand_augment_transform("rand-m9-mstd0.5")
    assert (ra.magnitude, ra.magnitude_std, ra.num_ops, ra.prob, ra.ops) == (9, 0.5, 2, 0.5, RAND_TRANSFORMS)
    ra = rand_augment_transform("rand-m7-n3-mstd0.5-inc1-mmax8-p0.8")
    assert (ra.magnitude, ra.num_ops, ra.magnitude_max, ra.prob) == (7, 3, 8, 0.8)
    assert ra.ops == RAND_INCREASING_TRANSFORMS
    assert rand_augment_transform("rand-m9-mstdinf").magnitude_std == float("inf")
    for bad in ("augmix-m5", "rand-x3", "rand-m"):
        with pytest.raises(ValueError, match="auto-augment"):
            rand_augment_transform(bad)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_rand_augment_deterministic_under_seed(mode):
    ra = rand_augment_transform("rand-m9-n4-mstd0.5-inc1-p1.0", fill=(73,))
    img = _image(mode)
    outs = [ra(img, random.Random(s)).tobytes() for s in (1, 1, 2)]
    assert outs[0] == outs[1] and outs[0] != outs[2]
    for seed in range(40):  # every op runs on both modes without error and keeps the size and mode
        out = ra(img, random.Random(seed))
        assert out.size == img.size and out.mode == mode


def test_train_and_eval_transforms():
    t = build_train_transform((3, 32, 32), (0.5,) * 3, (0.25,) * 3, auto_augment="rand-m9-mstd0.5", reprob=1.0)
    x = t(_image("RGB", (50, 40)), random.Random(0))
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x, t(_image("RGB", (50, 40)), random.Random(0)))
    e = build_eval_transform((1, 28, 28), (0.5,), (0.5,), crop_pct=1.0)
    y = e(_image("L"))
    assert y.shape == (1, 28, 28)
    expected = torch.tensor(np.array(_image("L")), dtype=torch.float32) / 255
    assert torch.allclose(y[0], (expected - 0.5) / 0.5)
    assert build_eval_transform((1, 24, 24), (0.5,), (0.5,), crop_pct=0.875)(_image("L", (64, 48))).shape == (1, 24, 24)


def test_mixup_targets_are_soft_and_sum_to_one():
    x = torch.randn(8, 1, 16, 16)
    y = torch.arange(8) % 4
    mix = Mixup(num_classes=4, mixup_alpha=0.8, cutmix_alpha=0.0, label_smoothing=0.1)
    mixed, targets = mix(x, y, random.Random(3))
    assert targets.shape == (8, 4) and torch.allclose(targets.sum(1), torch.ones(8))
    lam, _ = mix.sample(random.Random(3))
    assert torch.allclose(mixed, lam * x + (1 - lam) * x.flip(0))
    on = 1 - 0.1 + 0.1 / 4
    assert torch.isclose(targets[0, 0], torch.tensor(lam * on + (1 - lam) * 0.1 / 4))


def test_cutmix_target_weights_match_the_pasted_area():
    x = torch.zeros(6, 1, 20, 20)
    x[:3] = 1.0  # the first half is ones, so its mirror partners (the last half) receive ones
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    mix = Mixup(num_classes=2, mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0)
    for seed in range(10):
        mixed, targets = mix(x, y, random.Random(seed))
        pasted = mixed[5].mean().item()  # fraction of image 5 that came from image 0
        assert targets[5, 0].item() == pytest.approx(pasted)
        assert torch.allclose(targets.sum(1), torch.ones(6))


def test_cutmix_box_is_clipped_inside_the_image():
    for seed in range(50):
        top, bottom, left, right = cutmix_box(10, 12, 0.3, random.Random(seed))
        assert 0 <= top <= bottom <= 10 and 0 <= left <= right <= 12

"""Bad input to the model API fails with one clear message naming the problem and the fix."""

import pytest
import torch

import visionmlp


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match=r"unknown model 'mixer_s16_225'.*Did you mean mixer_s16_224"):
        visionmlp.create_model("mixer_s16_225")


def test_unknown_argument_lists_valid_ones():
    with pytest.raises(TypeError, match=r"unknown argument\(s\) depth.*valid arguments:.*num_blocks"):
        visionmlp.create_model("mixer_s4_28", depth=3)


def test_wrong_channel_count_names_fix():
    model = visionmlp.create_model("mixer_s4_32")
    with pytest.raises(ValueError, match=r"expects 3 input channels, got 1; create the model with in_chans=1"):
        model(torch.randn(1, 1, 32, 32))


def test_wrong_image_size_names_expected_size():
    model = visionmlp.create_model("mixer_s4_32")
    with pytest.raises(ValueError, match=r"built for 32x32 inputs.*got 28x28.*img_size=\(28, 28\)"):
        model(torch.randn(1, 3, 28, 28))


@pytest.mark.parametrize(
    "x, pattern",
    [
        (torch.randn(3, 32, 32), "expects an NCHW batch"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), "floating-point"),
        (torch.randn(0, 3, 32, 32), "empty batch"),
    ],
)
def test_malformed_batches(x, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        visionmlp.create_model("mixer_s4_32")(x)


def test_bad_num_classes():
    with pytest.raises(ValueError, match="num_classes must be an integer >= 0"):
        visionmlp.create_model("mixer_s4_32", num_classes=-1)


def test_out_indices_out_of_range_names_range():
    with pytest.raises(ValueError, match=r"valid indices are 0\.\.7"):
        visionmlp.create_model("mixer_s4_32", num_blocks=8, features_only=True, out_indices=[9])


def test_out_indices_without_features_only():
    with pytest.raises(ValueError, match="features_only"):
        visionmlp.create_model("mixer_s4_32", out_indices=[1])


def test_img_size_not_multiple_of_patch():
    with pytest.raises(ValueError, match="not a multiple of patch_size"):
        visionmlp.create_model("mixer_s4_32", img_size=30)

"""The all-MLP test that the trade-off verdict and the Fashion-MNIST targets share."""

import pytest

from visionmlp import create_model
from visionmlp.models import get_entry, is_all_mlp


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mixer_s4_28", True),
        ("gmlp_s4_28", True),
        ("vip_s4_28", True),
        ("convmlp_s4_28", False),  # convolutional tokenizer and stage
        ("asmlp_s4_28", False),  # axial shifts between 1x1 convolutions
        ("vit_s4_28", False),  # a baseline, however few convolutions it has
        ("resnet_s2_28", False),
    ],
)
def test_is_all_mlp(name, expected):
    assert is_all_mlp(create_model(name, device="meta"), get_entry(name).family) is expected

"""Property tests: any construction arguments and any input batch give either a working model and logits
of the right shape, or a documented error (ValueError / TypeError with a message), never a failure from
deep inside torch. Tiny models and a modest number of examples keep this to a few seconds.
"""

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import visionmlp

# The depth argument's name in each family; dims and patches are shared names.
FAMILIES = {"mixer_s4_28": "num_blocks", "resmlp_s4_28": "depth", "gmlp_s4_28": "num_blocks", "ffonly_s4_28": "depth"}
DOCUMENTED = (ValueError, TypeError)
JUNK = st.sampled_from([1.5, "8", True, None, (2, 2), float("nan")])


def _mostly(valid, invalid, junk=JUNK):
    """``valid`` nine times in ten, else ``invalid`` or ``junk`` (values of another type): with seven
    arguments, about half the models build and the forward pass gets exercised too."""
    return st.integers(0, 9).flatmap(lambda k: st.one_of(invalid, junk) if k == 0 else valid)


def _grid(patch):
    step = patch if isinstance(patch, int) and not isinstance(patch, bool) and patch > 0 else 4
    return st.one_of(
        st.integers(1, 6).map(lambda n: n * step),
        st.tuples(st.integers(1, 6), st.integers(1, 6)).map(lambda g: (g[0] * step, g[1] * step)),
    )


@st.composite
def model_args(draw):
    name = draw(st.sampled_from(sorted(FAMILIES)))
    kwargs = {
        "embed_dim": draw(_mostly(st.integers(1, 24), st.integers(-2, 0))),
        FAMILIES[name]: draw(_mostly(st.integers(1, 2), st.integers(-1, 0))),
        "patch_size": (patch := draw(_mostly(st.integers(1, 7), st.integers(-1, 0)))),
        # a whole number of patches (square or not), else any size: not a multiple, zero or negative
        "img_size": draw(_mostly(_grid(patch), st.one_of(st.integers(-4, 28), st.tuples(*[st.integers(1, 28)] * 2)))),
        "in_chans": draw(_mostly(st.integers(1, 4), st.integers(-1, 0))),
        "num_classes": draw(_mostly(st.integers(0, 5), st.integers(-2, -1))),
        "drop_path_rate": draw(_mostly(st.floats(0, 0.99), st.floats(-0.5, 1.5))),
    }
    if name == "mixer_s4_28":
        kwargs.update(tokens_mlp_dim=draw(_mostly(st.integers(1, 16), st.integers(-1, 0))),
                      channels_mlp_dim=draw(_mostly(st.integers(1, 16), st.integers(-1, 0))))  # fmt: skip
    if name == "ffonly_s4_28":
        kwargs["pos_grid"] = None  # derived from img_size and patch_size
    # None means "the variant's default" for every argument: drop those
    return name, {k: v for k, v in kwargs.items() if v is not None}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=model_args(), data=st.data())
def test_construction_and_forward_fail_only_with_documented_errors(args, data):
    name, kwargs = args
    try:
        model = visionmlp.create_model(name, **kwargs)
    except DOCUMENTED as err:
        assert str(err)
        return
    model.train(data.draw(st.booleans()))
    # A batch that fits, nine times in ten per property; otherwise another size, channel count or dtype.
    size = st.tuples(st.integers(1, 30), st.integers(1, 30))
    h, w = data.draw(_mostly(st.just(model.pretrained_cfg.input_size[1:]), size, junk=size))
    chans = data.draw(_mostly(st.just(model.in_chans), st.integers(1, 4), junk=st.just(5)))
    dtype = data.draw(
        _mostly(st.just(torch.float32), st.sampled_from([torch.float64, torch.int64]), st.just(torch.uint8))
    )
    x = torch.zeros(data.draw(_mostly(st.integers(1, 2), st.just(0), junk=st.just(0))), chans, h, w).to(dtype)
    try:
        with torch.no_grad():
            out = model(x)
    except DOCUMENTED as err:
        assert str(err)
        return
    assert out.shape == (len(x), model.num_classes or model.num_features)  # 0 classes: pooled features
    assert torch.isfinite(out).all()
    event("forward ran")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_valid_arguments_build_and_run(name):
    """The property above is not vacuous: in-range arguments do build and run, at other sizes too."""
    model = visionmlp.create_model(name, embed_dim=8, patch_size=2, img_size=(6, 10), in_chans=2, num_classes=3,
                                   **{FAMILIES[name]: 1})  # fmt: skip
    assert model(torch.randn(2, 2, 6, 10)).shape == (2, 3)

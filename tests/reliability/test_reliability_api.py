"""Bad input to the Python API, as a table: every case raises the documented type (ValueError, TypeError,
FileNotFoundError) with a message naming the problem and the fix, never an error from deep inside torch.

Cases already covered in ``test_errors.py`` and ``test_weights.py`` are not repeated here.
"""

import pytest
import torch

import visionmlp
from visionmlp.data import build_dataset
from visionmlp.data.image_folder import ImageFolder
from visionmlp.train import TrainConfig, Trainer, load_checkpoint

TINY = {"embed_dim": 16, "num_blocks": 1, "tokens_mlp_dim": 8, "channels_mlp_dim": 16}


def _mixer(**kwargs):
    return visionmlp.create_model("mixer_s4_28", **{**TINY, **kwargs})


def _forward(shape, dtype=torch.float32, **kwargs):
    return lambda _tmp: _mixer(**kwargs)(torch.zeros(shape, dtype=dtype))


def _garble(tmp, kind: str):
    """A whole file whose container structure is damaged (the header of a safetensors file, the zip
    directory at the end of a .pth or .npz)."""
    import numpy as np

    model = _mixer()
    path = tmp / f"w.{kind}"
    if kind == "safetensors":
        model.save_pretrained(tmp)
        path = tmp / "model.safetensors"
    elif kind == "pth":
        torch.save(model.state_dict(), path)
    else:
        with open(path, "wb") as f:
            np.savez(f, **{k: v.numpy() for k, v in model.state_dict().items()})
    data = bytearray(path.read_bytes())
    span = slice(9, 60) if kind == "safetensors" else slice(len(data) - 40, len(data))
    data[span] = b"#" * (span.stop - span.start)
    path.write_bytes(bytes(data))
    return visionmlp.create_model("mixer_s4_28", pretrained=path, **TINY)


def _folder(tmp, files: dict):
    for name, content in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(content)
    return ImageFolder(tmp)


# (id, call with a tmp folder, exception type, pattern)
CASES = [
    # model construction
    ("unknown-model", lambda t: visionmlp.create_model("resmlp_13_224"), ValueError, r"unknown model 'resmlp_13_224'"),
    ("in-chans-0", lambda t: _mixer(in_chans=0), ValueError, r"in_chans must be a positive integer"),
    ("embed-dim-negative", lambda t: _mixer(embed_dim=-8), ValueError, r"embed_dim must be a positive integer"),
    ("num-blocks-float", lambda t: _mixer(num_blocks=1.5), ValueError, r"num_blocks must be a positive integer"),
    ("patch-size-0", lambda t: _mixer(patch_size=0), ValueError, r"patch_size must be a positive integer"),
    ("img-size-0", lambda t: _mixer(img_size=0), ValueError, r"img_size must be a positive integer"),
    ("img-size-text", lambda t: _mixer(img_size="28"), ValueError, r"img_size must be a positive integer"),
    ("drop-path-rate-1", lambda t: _mixer(drop_path_rate=1.0), ValueError, r"drop_path_rate must be a number in"),
    ("drop-rate-negative", lambda t: _mixer(drop_rate=-0.1), ValueError, r"drop_rate must be a number in \[0, 1\)"),
    ("mlp-ratio-0", lambda t: visionmlp.create_model("resmlp_12_224", mlp_ratio=0), ValueError,
     r"mlp_ratio must be a positive number"),
    ("depths-with-0", lambda t: visionmlp.create_model("cyclemlp_b1", layers=(2, 0, 4, 2)), ValueError,
     r"layers must be a positive integer or a sequence of them"),
    ("num-classes-float", lambda t: _mixer(num_classes=2.0), ValueError, r"num_classes must be an integer >= 0"),
    ("pretrained-and-checkpoint-path", lambda t: visionmlp.create_model("mixer_s4_28", pretrained=t,
                                                                        checkpoint_path=t), ValueError,
     r"pass either pretrained or checkpoint_path, not both"),
    ("pretrained-not-a-path", lambda t: visionmlp.create_model("mixer_s4_28", pretrained=3), TypeError,
     r"pretrained must be True/False or a path"),
    # forward input
    ("input-float64", _forward((1, 1, 28, 28), torch.float64), TypeError,
     r"has torch.float32 weights but got torch.float64 images; convert with x.to\(torch.float32\)"),
    ("input-int", _forward((1, 1, 28, 28), torch.int64), TypeError, r"expects floating-point images"),
    ("input-wrong-channels", _forward((2, 3, 28, 28)), ValueError, r"expects 1 input channels, got 3"),
    ("input-non-square", _forward((2, 1, 28, 24)), ValueError, r"built for 28x28 inputs.*got 28x24"),
    ("input-batch-0", _forward((0, 1, 28, 28)), ValueError, r"empty batch"),
    ("input-5d", _forward((1, 1, 1, 28, 28)), ValueError, r"expects an NCHW batch"),
    ("input-numpy", lambda t: _mixer()(torch.zeros(1, 1, 28, 28).numpy()), TypeError, r"expects a torch.Tensor"),
    ("dynamic-size-not-multiple", lambda t: _mixer(dynamic_img_size=True)(torch.zeros(1, 1, 30, 30)), ValueError,
     r"positive multiples of 4x4"),
    # damaged weight files (truncation is in test_weights.py)
    *[(f"garbled-{kind}", (lambda k: lambda t: _garble(t, k))(kind), ValueError,
       rf"w?\.?{kind}|model.safetensors") for kind in ("safetensors", "pth", "npz")],
    # data
    ("data-empty-folder", lambda t: ImageFolder(t), FileNotFoundError, r"has no class folders"),
    ("data-only-junk", lambda t: _folder(t, {"a/x.txt": b"hi", "b/y.jpg": b"\xff\xd8garbage"}), FileNotFoundError,
     r"holds no readable images \(2 files skipped\)"),
    ("data-unknown-split", lambda t: build_dataset("synthetic", "valid"), ValueError,
     r"valid splits: train, val, test"),
    ("data-limit-0", lambda t: build_dataset("synthetic").limit(0), ValueError, r"limit must be positive"),
    ("data-synthetic-2-channels", lambda t: build_dataset("synthetic:2x28x28"), ValueError,
     r"channels must be 1 \(grey\) or 3 \(RGB\)"),
    # training
    ("config-negative-lr", lambda t: TrainConfig(lr=-1.0).check(), ValueError, r"lr must be > 0"),
    ("config-wrong-type", lambda t: TrainConfig.from_dict({"batch_size": "64"}), ValueError,
     r"batch_size must be an int, got '64'"),
    ("config-nan", lambda t: TrainConfig.from_dict({"momentum": float("nan")}), ValueError,
     r"momentum must be >= 0 and < 1, got nan"),
    ("trainer-batch-too-big", lambda t: Trainer(TrainConfig(batch_size=64, workers=0), _mixer(num_classes=10),
                                                build_dataset("synthetic").limit(32),
                                                build_dataset("synthetic", "val")), ValueError,
     r"fewer than one batch of 64"),
    ("trainer-foreign-state", lambda t: Trainer(TrainConfig(batch_size=16, workers=0), _mixer(num_classes=10),
                                                build_dataset("synthetic").limit(32),
                                                build_dataset("synthetic", "val")).load_state_dict({"model": {}}),
     ValueError, r"not a training checkpoint of this version"),
    ("load-checkpoint-missing", lambda t: load_checkpoint(t), FileNotFoundError, r"no checkpoint at .*last.pth"),
]  # fmt: skip


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(tmp_path, call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call(tmp_path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 600, message


def test_garbled_files_name_file_and_problem(tmp_path):
    """The garbled-* cases above, with the full contract: the file's path and what is wrong with it."""
    for kind in ("safetensors", "pth", "npz"):
        folder = tmp_path / kind
        folder.mkdir()
        with pytest.raises(ValueError, match=r"(truncated|damaged|corrupt|not a checkpoint)") as info:
            _garble(folder, kind)
        assert str(folder) in str(info.value)

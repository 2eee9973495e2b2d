"""Weights in and out: the native format, official files recognised by content, safety and adaptation."""

import os
import pickle
import warnings

import numpy as np
import pytest
import torch

import visionmlp
from helpers.official import FIXTURES, fixture_model, load_fixture, max_abs_diff, write_official
from visionmlp import hub
from visionmlp.convert import CONVERTERS, StateDictMismatchError
from visionmlp.formats import detect_format
from visionmlp.models import get_entry
from visionmlp.utils import WriteError, atomic_path

TINY_MIXER = dict(img_size=32, patch_size=8, embed_dim=32, num_blocks=2, tokens_mlp_dim=16, channels_mlp_dim=64)


def _mixer(**kwargs):
    torch.manual_seed(0)
    model = visionmlp.create_model("mixer_s16_224", **{**TINY_MIXER, **kwargs})
    with torch.no_grad():  # the Mixer head starts at zero: make it count in the comparisons
        model.head.weight.normal_(0, 0.1)
    return model.eval()


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ----- native format ---------------------------------------------------------------------------
def test_save_load_round_trip_is_bit_exact(tmp_path):
    model = _mixer(num_classes=7, gelu_approximate="tanh")
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = visionmlp.create_model("mixer_s16_224", pretrained=tmp_path)
    assert loaded.num_classes == 7 and loaded.blocks[0].mlp_tokens.act.approximate == "tanh"
    assert _same_state(model, loaded)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    # the weights file alone loads too, with the config beside it
    assert _same_state(model, visionmlp.create_model("mixer_s16_224", pretrained=tmp_path / "model.safetensors"))
    # checkpoint_path (timm's name) loads the same way, and cannot be combined with pretrained
    assert _same_state(model, visionmlp.create_model("mixer_s16_224", checkpoint_path=tmp_path))
    with pytest.raises(ValueError, match="either pretrained or checkpoint_path"):
        visionmlp.create_model("mixer_s16_224", pretrained=True, checkpoint_path=tmp_path)


def test_config_records_build(tmp_path):
    import json

    model = _mixer()
    model.reset_classifier(3)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architecture"] == "mixer_s16_224"
    assert config["kwargs"] == {**TINY_MIXER, "num_classes": 3}
    assert config["visionmlp_version"] == visionmlp.__version__
    assert config["pretrained_cfg"]["input_size"] == [3, 32, 32]


def test_features_only_backbone_round_trip(tmp_path):
    backbone = visionmlp.create_model("mixer_s16_224", **TINY_MIXER, features_only=True, out_indices=[0])
    backbone.save_pretrained(tmp_path)
    loaded = visionmlp.create_model("mixer_s16_224", pretrained=tmp_path)
    assert loaded.feature_indices == [0] and _same_state(backbone, loaded)


def test_wrong_architecture_is_named(tmp_path):
    _mixer().save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"holds a mixer_s16_224 model, not mixer_b16_224"):
        visionmlp.create_model("mixer_b16_224", pretrained=tmp_path)


def test_shared_storage_survives_save_and_load(tmp_path):
    model = _mixer()
    # tie a transposed view, as EAMLP's tokenizer does (linear_1.weight is linear_0.weight.T)
    fc = model.blocks[0].mlp_tokens
    fc.fc2.weight = torch.nn.Parameter(torch.randn(16, 16))
    model.blocks[1].mlp_tokens.fc2.weight = torch.nn.Parameter(fc.fc2.weight.data.T)
    model.save_pretrained(tmp_path)  # safetensors alone would refuse the shared tensors
    loaded = _mixer()
    loaded.blocks[0].mlp_tokens.fc2.weight = torch.nn.Parameter(torch.zeros(16, 16))
    loaded.blocks[1].mlp_tokens.fc2.weight = torch.nn.Parameter(loaded.blocks[0].mlp_tokens.fc2.weight.data.T)
    loaded.load_state_dict(visionmlp.models._weights.read_state_dict(tmp_path))
    a, b = loaded.blocks[0].mlp_tokens.fc2.weight, loaded.blocks[1].mlp_tokens.fc2.weight
    assert a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()  # still tied
    assert torch.equal(a, fc.fc2.weight) and torch.equal(b, a.T)


def test_eamlp_tied_memories_round_trip(tmp_path):
    """EAMLP's tokenizer holds its value memory as the transpose of its key memory (one parameter)."""
    model = visionmlp.create_model("eamlp_s4_28", **get_entry("eamlp_s4_28").tiny).eval()
    model.save_pretrained(tmp_path)
    loaded = visionmlp.create_model("eamlp_s4_28", pretrained=tmp_path)
    assert _same_state(model, loaded)
    x = torch.randn(2, *model.pretrained_cfg.input_size)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
        attn = loaded.tokens_to_token.attention1.attn
        attn.linear_0.weight.mul_(2)  # the tie is live: the value memory follows the key memory
        probe = torch.randn(3, attn.linear_0.out_features)
        assert torch.equal(attn.linear_1(probe) - attn.linear_1.bias, probe @ attn.linear_0.weight)


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"good")
    kept = r"could not write .*model.safetensors.*previous version is kept"
    with pytest.raises(WriteError, match=kept), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"good" and os.listdir(tmp_path) == ["model.safetensors"]


# ----- adaptation --------------------------------------------------------------------------------
def test_other_num_classes_drops_head_with_warning(tmp_path):
    model = _mixer(num_classes=10)
    model.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match=r"classifier dropped: .* 10 classes, the model 4"):
        loaded = visionmlp.create_model("mixer_s16_224", pretrained=tmp_path, num_classes=4)
    assert loaded.head.out_features == 4
    assert torch.equal(loaded.blocks[1].mlp_channels.fc1.weight, model.blocks[1].mlp_channels.fc1.weight)


@pytest.mark.parametrize("in_chans", [1, 5])
def test_in_chans_adapts_first_conv(tmp_path, in_chans):
    model = _mixer()
    model.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match=rf"stem.proj.weight adapted from 3 to {in_chans} input channels"):
        loaded = visionmlp.create_model("mixer_s16_224", pretrained=tmp_path, in_chans=in_chans)
    w, w0 = loaded.stem.proj.weight, model.stem.proj.weight
    if in_chans == 1:
        assert torch.allclose(w, w0.sum(1, keepdim=True))
    else:
        assert torch.allclose(w[:, :3], w0 * 3 / 5) and torch.allclose(w[:, 3:], w0[:, :2] * 3 / 5)
    # a grey image repeated over RGB gives the same output as the 1-channel model on the grey image
    if in_chans == 1:
        grey = torch.randn(2, 1, 32, 32)
        with torch.no_grad():
            assert torch.allclose(loaded(grey), model(grey.expand(-1, 3, -1, -1)), atol=1e-5)


def test_mismatch_report_names_keys(tmp_path):
    state = _mixer().state_dict()
    state["blocks.0.extra"] = torch.zeros(1)
    del state["norm.bias"]
    state["blocks.1.norm1.weight"] = torch.zeros(5)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(StateDictMismatchError) as err:
        visionmlp.create_model("mixer_s16_224", pretrained=path, **TINY_MIXER)
    msg = str(err.value)
    assert "missing 1: norm.bias" in msg and "unexpected 1: blocks.0.extra" in msg
    assert "mis-shaped 1: blocks.1.norm1.weight (5,) vs expected (32,)" in msg


# ----- official files ----------------------------------------------------------------------------
# Every fixture as a plain state dict, and (but for the flat Flax .npz) nested in a training checkpoint.
CASES = [(f, wrap) for f in FIXTURES for wrap in (False, True) if not (wrap and f.startswith("flax_mixer"))]


@pytest.mark.parametrize("fixture, wrap", CASES, ids=[f"{f}-{'nested' if w else 'plain'}" for f, w in CASES])
def test_official_file_detected_and_reproduces_logits(shared, tmp_path, fixture, wrap):
    meta, state, x, ref = load_fixture(shared / "fixtures" / "official" / f"{fixture}.safetensors")
    fmt = meta["family"]
    assert detect_format(state) == fmt
    name, kwargs = fixture_model(fmt, meta)
    path = write_official(state, fmt, tmp_path, wrap)
    model, report = visionmlp.load_pretrained(name, path, **kwargs)
    assert report.format == fmt and not report.notes
    with torch.no_grad():
        diff = max_abs_diff(model(x), ref)
    print(f"parity {fixture} ({'nested' if wrap else 'plain'}): max abs logit diff {diff:.1e}")
    assert diff <= 1e-4, f"{fmt}: max abs diff {diff:.2e}"


def test_converted_file_saves_and_reloads_natively(shared, tmp_path):
    meta, state, x, ref = load_fixture(shared / "fixtures/official/flax_mixer_p8_d2_64.safetensors")
    path = write_official(state, "flax_mixer", tmp_path, wrap=False)
    _, kwargs = fixture_model("flax_mixer", meta)
    model = visionmlp.create_model("mixer_s16_224", pretrained=path, **kwargs)
    model.save_pretrained(tmp_path / "native")
    reloaded = visionmlp.create_model("mixer_s16_224", pretrained=tmp_path / "native")
    with torch.no_grad():  # the tanh GELU the converter asked for is part of the saved config
        assert torch.equal(reloaded(x), model(x))
        assert max_abs_diff(reloaded(x), ref) <= 1e-4


def test_detection_ignores_unknown_schemes():
    assert detect_format(_mixer().state_dict()) == "timm_mixer"  # our Mixer names are timm's
    assert detect_format({"foo.weight": torch.zeros(1)}) is None


# ----- safety and damaged files ------------------------------------------------------------------
class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_malicious_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": _Exploit()}, path)
    with pytest.raises(ValueError, match=r"evil.pth: refused to load: the file's pickle would run code"):
        visionmlp.create_model("mixer_s16_224", pretrained=path)
    legacy = tmp_path / "evil_legacy.pth"
    legacy.write_bytes(pickle.dumps(_Exploit(), protocol=2))
    with pytest.raises(ValueError, match="refused|not a readable"):
        visionmlp.create_model("mixer_s16_224", pretrained=legacy)


def test_npz_with_objects_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="needs pickle"):
        visionmlp.create_model("mixer_s16_224", pretrained=path)


@pytest.mark.parametrize("kind", ["safetensors", "pth", "npz"])
def test_truncated_file_names_file_and_problem(tmp_path, kind):
    state = _mixer().state_dict()
    path = tmp_path / f"w.{kind}"
    if kind == "safetensors":
        _mixer().save_pretrained(tmp_path)
        path = tmp_path / "model.safetensors"
    elif kind == "pth":
        torch.save(state, path)
    else:
        with open(path, "wb") as f:
            np.savez(f, **{k: v.numpy() for k, v in state.items()})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{path.name}.*(truncated|damaged|corrupt)"):
        visionmlp.create_model("mixer_s16_224", pretrained=path, **TINY_MIXER)


def test_empty_and_unknown_files(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.pth is empty"):
        visionmlp.create_model("mixer_s16_224", pretrained=tmp_path / "empty.pth")
    (tmp_path / "notes.txt").write_text("hello world")
    with pytest.raises(ValueError, match="not a checkpoint visionmlp can read"):
        visionmlp.create_model("mixer_s16_224", pretrained=tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        visionmlp.create_model("mixer_s16_224", pretrained=tmp_path / "missing.pth")


# ----- pretrained=True ---------------------------------------------------------------------------
def test_pretrained_true_reads_weights_dir(tmp_path, monkeypatch):
    record = hub.pretrained_cfg("mixer_b16_224").weights[0]
    source = _mixer()
    source.save_pretrained(tmp_path / "saved")
    (tmp_path / "weights").mkdir()
    (tmp_path / "saved" / "model.safetensors").rename(tmp_path / "weights" / record.file_name)
    monkeypatch.setenv("VISIONMLP_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("VISIONMLP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VISIONMLP_OFFLINE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = visionmlp.create_model("mixer_b16_224", pretrained=True, **TINY_MIXER)
    assert _same_state(model, source)


def test_pretrained_true_offline_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONMLP_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("VISIONMLP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VISIONMLP_OFFLINE", "1")
    with pytest.raises(FileNotFoundError) as err:
        visionmlp.create_model("resmlp_12_224", pretrained=True)
    msg = str(err.value)
    assert "https://dl.fbaipublicfiles.com/deit/resmlp_12_dist.pth" in msg
    assert f"resmlp_12_dist.pth in $VISIONMLP_WEIGHTS_DIR (now {tmp_path})" in msg and "pretrained=" in msg


def test_pretrained_true_without_known_weights():
    with pytest.raises(ValueError, match="no official weights are known for 'mixer_s4_32'"):
        visionmlp.create_model("mixer_s4_32", pretrained=True)


def test_weight_table_names_registered_models_and_formats():
    official = {n: get_entry(n).pretrained_cfg.weights for n in visionmlp.list_models()}
    official = {n: files for n, files in official.items() if files}
    assert {"mixer_b16_224", "resmlp_12_224", "convmlp_s", "ffonly_base", "cyclemlp_b1", "asmlp_t"} <= set(official)
    for name, files in official.items():
        entry = get_entry(name)
        assert files and entry.family
        for record in files:
            assert record.format in CONVERTERS or record.format == "eamlp", record
    names = [f.file_name for files in official.values() for f in files]
    assert len(names) == len(set(names)), "file names must be unique within $VISIONMLP_WEIGHTS_DIR"

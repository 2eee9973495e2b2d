"""``visionmlp convert`` through the CLI entry point (``export onnx`` is in test_export_onnx.py)."""

import pytest
import torch

import visionmlp
from helpers.official import FIXTURES, fixture_model, load_fixture, max_abs_diff, write_official
from visionmlp.cli import main


@pytest.mark.parametrize("fixture", FIXTURES)
def test_convert_every_official_format(shared, tmp_path, capsys, fixture):
    """Each official file, under a neutral name, converts from the command line and keeps the official logits."""
    meta, state, x, ref = load_fixture(shared / "fixtures" / "official" / f"{fixture}.safetensors")
    name, kwargs = fixture_model(meta["family"], meta)
    path = write_official(state, meta["family"], tmp_path)
    args = [a for k, v in kwargs.items() for a in ("--arg", f"{k}={v!r}")]
    assert main(["convert", "--from", "auto", "--model", name, *args, str(path), str(tmp_path / "out")]) == 0
    line = capsys.readouterr().out.strip()
    assert f"format {meta['family']}, " in line and "key issues: none" in line
    model = visionmlp.create_model(name, pretrained=tmp_path / "out")
    with torch.no_grad():
        assert max_abs_diff(model(x), ref) <= 1e-4


def test_convert_wrong_format_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "w.pth"
    torch.save({"foo.weight": torch.zeros(2)}, path)
    rc = main(["convert", "--model", "mixer_s4_32", str(path), str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0 and "unexpected 1: foo.weight" in err
    assert main(["convert", "--model", "mixer_s4_32", "--arg", "oops", str(path), str(tmp_path / "o")]) == 2
    assert "--arg expects KEY=VALUE" in capsys.readouterr().err


def test_convert_takes_the_official_arguments_by_name(shared, tmp_path, capsys):
    meta, state, x, ref = load_fixture(shared / "fixtures" / "official" / "vip_p4_l2222_64.safetensors")
    path = write_official(state, "vip", tmp_path)
    official = [a for k, v in fixture_model("vip", meta)[1]["official_kwargs"].items()
                for a in ("--official-arg", f"{k}={v!r}")]  # fmt: skip
    assert main(["convert", "--model", "vip_s7", *official, str(path), str(tmp_path / "out")]) == 0
    assert "format vip, " in capsys.readouterr().out
    with torch.no_grad():
        assert max_abs_diff(visionmlp.create_model("vip_s7", pretrained=tmp_path / "out")(x), ref) <= 1e-4
    assert main(["convert", "--model", "vip_s7", "--official-arg", "segments=8", str(path), str(tmp_path / "o")]) == 2
    assert "segments is not an argument of Andrew-Qibin/VisionPermutator" in capsys.readouterr().err


def test_info_shows_every_architecture_argument(capsys):
    import json

    assert main(["info", "cyclemlp_b1"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["arguments"]["skip_lam"] == 1.0 and info["arguments"]["layers"] == [2, 2, 4, 2]
    assert "layers" in info["variant_overrides"] and "skip_lam" not in info["variant_overrides"]
    assert info["official_constructors"] == ["ShoufaChen/CycleMLP cycle_mlp.py: CycleNet"]

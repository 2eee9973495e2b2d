"""``--compare official``: finding and importing the authors' code from local clones, the parity check's
perturbation, and the CLI's errors. The official code itself is never part of the repository: the import
machinery is tested on stand-in clones written here, and the real parity test runs where
``VISIONMLP_OFFICIAL_ROOT`` points at clones of the official repositories."""

import json
import os
import sys

import pytest
import torch
from torch import nn

from visionmlp.bench import compare, official
from visionmlp.cli import main


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_families_without_runnable_official_code_say_why():
    with pytest.raises(official.OfficialUnavailable, match="deform_conv2d"):
        official.source_of("cyclemlp_b1", "/nonexistent")
    with pytest.raises(official.OfficialUnavailable, match="cupy"):
        official.source_of("asmlp_t", "/nonexistent")
    with pytest.raises(official.OfficialUnavailable, match="covered: convmlp_l"):
        official.source_of("mixer_s16_224", "/nonexistent")


def test_missing_root_or_clone_names_the_git_clone(tmp_path):
    with pytest.raises(official.OfficialUnavailable, match="--official-root DIR.*Andrew-Qibin/VisionPermutator"):
        official.source_of("vip_s7", None)
    with pytest.raises(official.OfficialUnavailable, match="VisionPermutator/models/vip.py not found.*git clone"):
        official.source_of("vip_s7", tmp_path)


def test_import_uses_the_package_the_files_expect_and_leaves_sys_modules_alone(tmp_path, monkeypatch, capsys):
    # DynaMixer's files import each other as ``models.<file>``; its models/__init__ must not run
    models = tmp_path / "DynaMixer" / "models"
    _write(models / "__init__.py", "raise RuntimeError('the package __init__ ran')\n")
    _write(models / "width.py", "WIDTH = 3\n")
    _write(
        models / "configs" / "conf_dynamixer.py",
        "import torch\nfrom models.width import WIDTH\n\n"
        "def dynamixer_s():\n    print('building')\n"
        "    return torch.nn.Sequential(torch.nn.Dropout(), torch.nn.Linear(WIDTH, 1))\n",
    )
    sentinel = object()
    monkeypatch.setitem(sys.modules, "models", sentinel)  # someone else's ``models`` package
    model = official.build_official("dynamixer_s", tmp_path)
    assert isinstance(model[1], nn.Linear) and model[1].in_features == 3 and not model.training
    assert sys.modules["models"] is sentinel and "models.width" not in sys.modules
    out = capsys.readouterr()
    assert out.out == "" and "building" in out.err  # stdout may carry --json


def test_relative_imports_resolve_in_a_private_package(tmp_path):
    src = tmp_path / "Convolutional-MLPs" / "src"
    _write(src / "utils" / "modules.py", "import torch\nStage = torch.nn.Identity\n")
    _write(src / "convmlp.py", "from .utils.modules import Stage\n\ndef convmlp_s():\n    return Stage()\n")
    assert isinstance(official.build_official("convmlp_s", tmp_path), nn.Identity)
    assert not any(k.startswith("_official_convmlp") for k in sys.modules)


def test_perturb_leaves_no_default_value_that_could_hide_a_misplaced_weight():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.LayerNorm(4), nn.Linear(4, 5))
    nn.init.zeros_(model[3].weight)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    compare.perturb(model)
    state = model.state_dict()
    for key in ("1.weight", "1.bias", "1.running_mean", "1.running_var", "2.weight", "2.bias", "3.weight", "3.bias"):
        assert not torch.equal(state[key], before[key]), key
    assert torch.equal(state["0.weight"], before["0.weight"])  # random weights keep their init
    assert (state["1.running_var"] > 0).all()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["vip_s7", "--compare", "official"], "--official-root DIR"),
        (["vip_s7", "--official-root", "x"], "--official-root is for --compare official"),
        (["cyclemlp_b1", "--compare", "official", "--official-root", "x"], "deform_conv2d"),
        (["vip_s7", "--compare", "timm"], "try --compare official"),
    ],
)
def test_cli_errors_exit_2(argv, message, capsys):
    if argv[-1] == "timm":
        try:
            compare.import_timm()
        except compare.TimmUnavailable as err:
            pytest.skip(str(err))
    assert main(["benchmark", *argv]) == 2
    assert message in capsys.readouterr().err


ROOT = os.environ.get("VISIONMLP_OFFICIAL_ROOT")


@pytest.mark.skipif(not ROOT, reason="VISIONMLP_OFFICIAL_ROOT (clones of the official repositories) not set")
@pytest.mark.parametrize("name", ["convmlp_s", "vip_s7", "dynamixer_s", "ffonly_tiny", "eamlp_14"])
def test_official_code_computes_our_function(name, capsys):
    argv = [name, "--compare", "official", "--official-root", ROOT, "--measure", "inference"]
    assert main(["benchmark", *argv, "--batch-size", "1", "--rounds", "1", "--warmup", "0", "--json"]) == 0
    cmp = json.loads(capsys.readouterr().out)["results"][0]["compare_official"]
    assert cmp["max_abs_diff"] <= compare.MAX_ABS_DIFF and cmp["inference"]["ratio"]["median"] > 0

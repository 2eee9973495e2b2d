"""``visionmlp benchmark --revision``, the side-by-side timer behind the speed work log: an earlier revision's
package imports beside the working tree's, a model loads the same weights into both builds, and the command
prints one ratio per model and measure."""

import json
import subprocess
import sys

import pytest
import torch

import visionmlp
from visionmlp.bench.revision import CHECKOUT, model_steps, revision_package
from visionmlp.cli import main

in_git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True).returncode == 0
needs_git = pytest.mark.skipif(not in_git, reason="not a git checkout: there is no revision to compare against")


@needs_git
def test_revision_imports_as_a_second_package_and_computes_the_same_function():
    with revision_package("HEAD") as old:
        assert old.__name__.startswith("visionmlp_") and old.create_model is not visionmlp.create_model
        name = old.__name__
        for train in (False, True):
            steps, diff, scale = model_steps(old, "gmlp_s4_28", 2, torch.float32, train)
            assert set(steps) == {"revision", "working tree"} and diff <= 1e-4 * scale
            for step in steps.values():
                step()
    assert name not in sys.modules  # the second package is gone again


@needs_git
def test_benchmark_revision_command(capsys):
    argv = ["benchmark", "mixer_s4_28", "--revision", "HEAD", "--rounds", "1", "--warmup", "0", "--batch-size", "2",
            "--measure", "inference,training", "--json"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["measure"]) for r in doc["results"]] == [
        ("mixer_s4_28", "inference"),
        ("mixer_s4_28", "training"),
    ]
    assert all(r["ratio"]["median"] > 0 and r["max_abs_diff"] <= 1e-4 * r["feature_scale"] for r in doc["results"])


@needs_git
def test_revision_steps_run_under_autocast_with_amp():
    seen = []

    def spy(module, args, output):
        seen.append(torch.is_autocast_enabled("cpu"))

    with revision_package("HEAD") as old:
        for train in (False, True):
            steps, _, _ = model_steps(old, "mixer_s4_28", 2, torch.float32, train, amp=True)
            handle = torch.nn.modules.module.register_module_forward_hook(spy)
            try:
                steps["working tree"]()
            finally:
                handle.remove()
    assert seen and all(seen)


def test_benchmark_revision_names_a_bad_revision(capsys):
    assert main(["benchmark", "mixer_s4_28", "--revision", "no-such-revision-xyz", "--measure", "inference"]) == 2
    assert "--revision no-such-revision-xyz: not a revision" in capsys.readouterr().err

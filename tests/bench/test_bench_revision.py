"""``scripts/bench_revision.py``, the side-by-side timer behind the speed work log: an earlier revision's
package imports beside the working tree's, and a model loads the same weights into both builds."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import visionmlp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import bench_revision  # noqa: E402  (a script, not a module of the package)

in_git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode == 0


@pytest.mark.skipif(not in_git, reason="not a git checkout: there is no revision to compare against")
def test_revision_imports_as_a_second_package_and_computes_the_same_function(tmp_path):
    old = bench_revision.import_revision("HEAD", tmp_path)
    try:
        assert old.__name__.startswith("visionmlp_") and old.create_model is not visionmlp.create_model
        assert Path(old.__file__).is_relative_to(tmp_path)  # its modules come from the extracted copy
        for train in (False, True):
            steps, diff, scale = bench_revision.model_steps(old, "gmlp_s4_28", 2, torch.float32, train)
            assert set(steps) == {"revision", "working tree"} and diff <= 1e-4 * scale
            for step in steps.values():
                step()
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith(old.__name__)]:
            del sys.modules[name]

"""Shared test fixtures: where ../shared lives, and small helpers."""

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The project's shared/ folder (specs and official fixtures): $VISIONMLP_SHARED or ../shared."""
    return Path(os.environ.get("VISIONMLP_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared/ not found at {path}; CI must run with ../shared beside the checkout")
        pytest.skip(f"shared/ not found at {path} (set VISIONMLP_SHARED)")
    return path


@pytest.fixture(autouse=True)
def _few_threads():
    """Keep each test on the machine's cores without oversubscription noise."""
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield

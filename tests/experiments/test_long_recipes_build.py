"""Every long Fashion-MNIST recipe builds its model with the recipe's model arguments (a recipe that names an
argument its model lacks stops the sweep hours in, when its turn comes, as BiT's drop_path_rate did), and its
header states the epochs it trains."""

import re

import pytest
import yaml

import visionmlp
from visionmlp.experiments.fashion_mnist import RECIPES

MODEL_KEYS = ("drop_path_rate", "drop_rate")


@pytest.mark.parametrize("recipe", sorted(RECIPES.glob("*.yaml")), ids=lambda p: p.stem)
def test_recipe_builds_its_model(recipe):
    cfg = yaml.safe_load(recipe.read_text())
    kwargs = {k: cfg[k] for k in MODEL_KEYS if cfg.get(k) is not None}
    visionmlp.create_model(cfg["model"], device="meta", **kwargs)


@pytest.mark.parametrize("recipe", sorted(RECIPES.glob("*.yaml")), ids=lambda p: p.stem)
def test_recipe_header_states_its_epochs(recipe):
    """The first line is what a reader of the recipe (and of the report's command column) sees first; a resized
    recipe whose header kept the old count would misreport what its row trained."""
    text = recipe.read_text()
    assert re.search(rf"\b{yaml.safe_load(text)['epochs']} epochs\b", text.splitlines()[0])

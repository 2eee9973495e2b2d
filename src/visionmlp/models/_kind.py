"""Which families are the baselines the MLP papers compare against, and which models are all-MLP.

The claims visionmlp re-runs (the trade-off study) and the Fashion-MNIST targets both speak of *all-MLP* models:
no attention and no convolution beyond the patch stem. Several MLP families are hybrids by that test (ConvMLP's
convolutional stages, the shifted or cycled 1x1 convolutions of AS-MLP, CycleMLP and S2-MLPv2's stems), so a
claim about all-MLP models must not rest on them; one definition here keeps every report counting alike.
"""

from __future__ import annotations

from torch import nn

BASELINE_FAMILIES = frozenset({"vit", "resnet", "bit"})  # attention and CNN baselines, not MLP families


def is_all_mlp(model: nn.Module, family: str) -> bool:
    """No attention or CNN baseline, and at most one convolution (the patch stem)."""
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    return family not in BASELINE_FAMILIES and convs <= 1

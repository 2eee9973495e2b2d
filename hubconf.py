"""``torch.hub`` entry points: every registered variant by name, built by ``visionmlp.create_model``.

    torch.hub.load("path/to/visionmlp", "resmlp_12_224", source="local", num_classes=10)
    torch.hub.load("path/to/visionmlp", "mixer_s4_28", source="local", pretrained="my-run/best.pth")

The package is imported from ``src/`` of the checkout torch.hub loads, so it works from a clone without an install.
"""

import sys
from pathlib import Path

dependencies = ["torch", "numpy", "PIL", "safetensors", "yaml", "rich"]

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from visionmlp import create_model, list_models  # noqa: E402 (after the path above)


def _entry(name: str):
    def build(pretrained=False, **kwargs):
        return create_model(name, pretrained=pretrained, **kwargs)

    build.__name__ = name
    build.__doc__ = f"visionmlp's {name}: ``create_model({name!r}, pretrained=..., **kwargs)``."
    return build


globals().update({name: _entry(name) for name in list_models()})

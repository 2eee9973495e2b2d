"""The package's layers import only downwards (docs/architecture.md): a model never imports the trainer, a converter
never imports a model, and only the CLI sees everything. A new import that breaks the order fails here, by name."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "visionmlp"
BASE = {"utils", "_version"}
# unit -> the units it may import (a unit is a subpackage or a top-level module of visionmlp)
ALLOWED = {
    "utils": set(),
    "layers": BASE,
    "models": BASE | {"layers"},
    "convert": BASE | {"layers"},
    "data": BASE,
    "formats": BASE,
    "hub": BASE | {"models"},
    "factory": BASE | {"models", "convert", "formats", "hub"},
    "train": BASE | {"models", "data"},
    "bench": BASE | {"models", "layers", "convert"},
    "export": BASE | {"models"},
    "dense": BASE | {"models", "layers", "data", "train"},
    "experiments": BASE | {"models", "layers", "data", "train", "bench", "factory", "dense"},
}


def _imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        unit = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        package = list(rel.parts[:-1])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
                names = [target[0]] if target else [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("visionmlp."):
                names = [node.module.split(".")[1]]
            else:
                continue
            found.setdefault(unit, set()).update(n for n in names if n != unit)
    return found


IMPORTS = _imports()


@pytest.mark.parametrize("unit", sorted(ALLOWED))
def test_imports_go_downwards_only(unit):
    upward = IMPORTS.get(unit, set()) - ALLOWED[unit]
    assert not upward, f"visionmlp.{unit} imports {sorted(upward)}, above it in docs/architecture.md's order"


def test_every_unit_has_a_place():
    units = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    units |= {p.stem for p in SRC.glob("*.py")} - {"__init__", "_version"}
    assert units - {"cli"} <= set(ALLOWED), f"add {sorted(units - {'cli'} - set(ALLOWED))} to ALLOWED and the page"

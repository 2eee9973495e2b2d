"""Every ``visionmlp`` command the README, docs/ and the recipes' headers show parses with today's CLI.

Examples drift silently when a flag is renamed or an argument becomes positional (the README once showed
``validate --checkpoint``); parsing each one catches that without running it. ``...`` marks an elided part
of a command and is dropped.
"""

import re
import shlex
from pathlib import Path

import pytest

from visionmlp.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
COMMAND = re.compile(r"(?:^|\s-m )visionmlp(?:\.cli)? (?P<args>.*)")


def _fenced_lines(path: Path):
    fenced = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        elif fenced:
            yield number, line


def _commands():
    docs = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for path in docs:
        for number, line in _fenced_lines(path):
            if match := COMMAND.search(line):
                yield f"{path.relative_to(REPO)}:{number}", match["args"].split(" #")[0]
    for path in sorted((REPO / "configs").rglob("*.yaml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if match := re.match(r"# Run: visionmlp (?P<args>.*)", line):
                yield f"{path.relative_to(REPO)}:{number}", match["args"]


COMMANDS = list(_commands())


def test_the_docs_show_commands():
    where = {place.split(":")[0] for place, _ in COMMANDS}
    assert {"README.md", "configs/fashion_mnist/mixer.yaml", "docs/results/permutation.md"} <= where


@pytest.mark.parametrize(("place", "args"), COMMANDS, ids=[place for place, _ in COMMANDS])
def test_documented_command_parses(place, args, capsys):
    argv = [a for a in shlex.split(args) if a != "..."]
    try:
        parsed = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{place}: `visionmlp {args}` does not parse: {capsys.readouterr().err.strip()}")
    recipe = getattr(parsed, "config", None)
    if recipe:
        assert (REPO / recipe).is_file(), f"{place}: recipe {recipe} does not exist"

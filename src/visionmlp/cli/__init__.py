"""The ``visionmlp`` command: one entry point, one module per subcommand.

Each non-private module in this package defines ``register(subparsers)``, which adds its subcommand
and sets ``func`` on the parser to a function ``(args) -> int``. Every failure the user can act on is
one line on stderr, never a traceback: usage errors (a bad flag or value, a missing or unreadable input,
a damaged or refused file) exit with status 2; failures while running (a full disk, a diverged
training run) with status 1; an interrupt with 130. Warnings are one line each too.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import pkgutil
import sys
import warnings

from ..train import NonFiniteLossError
from ..utils.allocator import keep_freed_memory


class UsageError(Exception):
    """A bad command line or argument value: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage of ``train`` runs to dozens of lines)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


# The fix for an error the operating system reports, by errno.
_OS_FIXES = {
    errno.EACCES: "check the permissions of the file and the folders above it",
    errno.EPERM: "check the permissions of the file and the folders above it",
    errno.ENOSPC: "free some disk space and run the command again",
    errno.EDQUOT: "free some disk space and run the command again",
    errno.EROFS: "pick a writable location",
    errno.EISDIR: "pass a file, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder; check the path",
    errno.ENOENT: "check the path",
}
# Input the user named that is missing or unreadable: a usage error, not a failure while running.
_USAGE_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def positive_int(text: str) -> int:
    """argparse type: an integer > 0 (batch sizes, limits, top-k)."""
    return _bounded_int(text, 1)


def count(text: str) -> int:
    """argparse type: an integer >= 0 (worker processes)."""
    return _bounded_int(text, 0)


def _bounded_int(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="visionmlp", description="All-MLP vision models: build, train, convert, measure.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()  # a step's tensors are not faulted in afresh every step (utils/allocator.py)
    prefix = f"visionmlp {args.command}"
    with warnings.catch_warnings():
        warnings.showwarning = lambda message, *_, **__: print(f"{prefix}: warning: {message}", file=sys.stderr)
        try:
            return int(args.func(args) or 0)
        except BrokenPipeError:
            return _pipe_closed()
        except (UsageError, ValueError, TypeError) as err:
            print(f"{prefix}: error: {err}", file=sys.stderr)
            return 2
        except OSError as err:
            print(f"{prefix}: error: {describe_os_error(err)}", file=sys.stderr)
            return 2 if isinstance(err, _USAGE_OS_ERRORS) else 1
        except NonFiniteLossError as err:
            print(f"{prefix}: error: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted", file=sys.stderr)
            return 130


def _pipe_closed() -> int:
    """The reader of stdout went away (``visionmlp list-models | head``): what it wanted, it has. Point stdout at
    /dev/null so that Python's flush at exit does not fail again, and exit quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def describe_os_error(err: OSError) -> str:
    """One line: visionmlp's own message as it is; the system's (``[Errno 13] ...: 'path'``) reworded to
    name the file first, with the fix for its errno."""
    if err.filename is None or err.strerror is None:
        return str(err)
    # visionmlp's WriteError already names the file; the system's message does not start with it.
    problem = err.strerror if str(err) == err.strerror else f"{err.filename}: {err.strerror.lower()}"
    fix = _OS_FIXES.get(err.errno)
    return f"{problem}; {fix}" if fix else problem


if __name__ == "__main__":
    sys.exit(main())

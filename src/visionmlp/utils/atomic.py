"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Every writer in visionmlp (weights, checkpoints, configs, logs, validation reports, ONNX graphs,
downloads) writes to a temporary name in the destination folder, fsyncs it, then renames it over the
destination. A rename within one folder is atomic on POSIX and Windows, so the destination holds either
the previous good file or the complete new one. A failed write (a full disk, a serialiser error) raises
:class:`WriteError`, which names the file and says whether a previous version is kept.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Below this many free bytes a failed write is put down to a full disk.
_NEARLY_FULL = 1 << 20


class WriteError(OSError):
    """Writing ``filename`` failed; the destination is untouched (its previous version, if any, is kept).

    Serialisers report a full disk in their own exception types and words (torch: a RuntimeError about an
    "unexpected pos"), so every failure inside :func:`atomic_path` becomes this one type, and a failure
    on a full disk says so whatever the serialiser said. The cause stays chained as ``__cause__``.
    """

    def __init__(self, path: Path, cause: BaseException, kept: bool):
        code = getattr(cause, "errno", None)
        detail = getattr(cause, "strerror", None) or f"{type(cause).__name__}: {cause}"
        if code is None and _no_space(path.parent):
            code, detail = errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}; {detail}"
        outcome = "the previous version is kept" if kept else "no file was written"
        super().__init__(code, f"could not write {path} ({detail}); {outcome}")
        self.filename = str(path)

    def __str__(self) -> str:
        return self.strerror


def _no_space(folder: Path) -> bool:
    """Whether the file system holding ``folder`` is (all but) full."""
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL
    except OSError:
        return False


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on a clean exit it replaces ``path``.

    The temporary file lives in the same folder so that the final rename never crosses a file system.
    If anything fails, the temporary file is removed, ``path`` is left as it was, and the error is
    re-raised as :class:`WriteError` (an interrupt, e.g. KeyboardInterrupt, is re-raised as it is).
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        yield tmp
        _fsync(tmp)
        # mkstemp creates 0600 files; give the result the permissions a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as err:
        # Built before the temporary file goes: while it exists, a full disk still shows as full.
        error = WriteError(path, err, kept=path.exists()) if isinstance(err, Exception) else None
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        if error is None or isinstance(err, WriteError):
            raise
        raise error from err
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (POSIX); folders cannot be opened this way on Windows."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

"""Any ``root/<class>/<image>`` folder read with PIL: the user's own data.

Files are checked once when the set is built (``PIL.Image.verify`` reads headers and checksums without
decoding): files that are not images, or corrupted ones, are skipped with one warning each and counted
in ``skipped``. A file that still fails to decode later (e.g. a JPEG truncated past its header) is
replaced by the next image with a warning, so an epoch never crashes halfway.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .base import ImageDataset

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
_READ_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError)


class ImageFolder(ImageDataset):
    def __init__(self, root: str | Path, channels: int = 3, **kwargs):
        root = Path(root)
        folders = root.iterdir() if root.is_dir() else ()
        classes = sorted(d.name for d in folders if d.is_dir() and not d.name.startswith("."))
        if not classes:
            raise FileNotFoundError(f"{root} has no class folders; an image folder is laid out as root/<class>/<image>")
        super().__init__(classes, channels, **kwargs)
        self.root = root
        self.samples: list[tuple[Path, int]] = []
        self.skipped: list[tuple[Path, str]] = []
        for label, name in enumerate(classes):
            for path in sorted(p for p in (root / name).rglob("*") if p.is_file() and not p.name.startswith(".")):
                reason = _check(path)
                if reason is None:
                    self.samples.append((path, label))
                else:
                    self.skipped.append((path, reason))
                    warnings.warn(f"skipping {path}: {reason}", UserWarning, stacklevel=2)
        if not self.samples:
            raise FileNotFoundError(f"{root} holds no readable images ({len(self.skipped)} files skipped)")

    def summary(self) -> str:
        text = f"{len(self.samples)} images in {len(self.classes)} classes, {len(self.skipped)} files skipped"
        if self.held_out is not None:
            fraction, seed, held = self.held_out
            part = "held out for validation" if held else "for training, the rest held out for validation"
            text += f"; {len(self)} of them ({100 * fraction:g}%{'' if held else ' less'}, seed {seed}) {part}"
        return text

    def _size(self) -> int:
        return len(self.samples)

    def _load(self, i: int) -> tuple[Image.Image, int]:
        for offset in range(len(self.samples)):
            path, label = self.samples[(i + offset) % len(self.samples)]
            try:
                with Image.open(path) as img:
                    return img.convert(self.mode), label
            except _READ_ERRORS as err:
                warnings.warn(f"{path} could not be decoded ({err}); using the next image", UserWarning, stacklevel=2)
        raise OSError(f"no image in {self.root} could be decoded")


def _check(path: Path) -> str | None:
    """Why ``path`` cannot be used, or None if it looks like a whole image."""
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return "not an image file (unknown extension)"
    try:
        with Image.open(path) as img:
            img.verify()
    except _READ_ERRORS as err:
        return f"unreadable or corrupted image ({err})"
    return None

"""Small helpers with no dependency on the rest of the package (the bottom layer)."""

from .atomic import atomic_path, atomic_write_text

__all__ = ["atomic_path", "atomic_write_text"]

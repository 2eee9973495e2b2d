"""Small helpers with no dependency on the rest of the package (the bottom layer)."""

from .atomic import WriteError, atomic_path, atomic_write_text
from .faults import pause_point

__all__ = ["WriteError", "atomic_path", "atomic_write_text", "pause_point"]

"""Exporting models to other runtimes."""

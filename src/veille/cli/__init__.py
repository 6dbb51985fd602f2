"""The `veille` command line: one module per command group, one output module."""

from veille.cli.main import main

__all__ = ["main"]

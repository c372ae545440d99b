"""The ``cadence`` command, one module per command group; its names and options do not change."""

from cadence.cli.app import main

__all__ = ["main"]

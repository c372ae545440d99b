"""The ``cadence`` command (contract.md), one module per command group."""

from cadence.cli.app import main

__all__ = ["main"]

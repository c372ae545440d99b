"""Where the CLI's output goes and how it reads: the two consoles, JSON, table cells, errors."""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from cadence.core.errors import CadenceError

#: Human output goes to stderr when stdout carries JSON, so scripts read clean documents.
err_console = Console(stderr=True)
out_console = Console()


@contextmanager
def handle_errors() -> Iterator[None]:
    """Errors Cadence raises on purpose print as one plain message and exit 1."""
    try:
        yield
    except CadenceError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
        raise typer.Exit(1) from exc


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")


def table_cell(value: object) -> str:
    """A report value as a table shows it: shares as percentages, counts by kind on one line."""
    if isinstance(value, float):
        return f"{value:.1%}" if value <= 1 else f"{value:.1f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return "" if value is None else str(value)

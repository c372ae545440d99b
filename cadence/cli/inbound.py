"""``cadence inbound FILE...``: raw messages from disk into the inbound path."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cadence.cli.console import err_console, out_console
from cadence.cli.context import app_context
from cadence.core.errors import InputError


def inbound(
    files: Annotated[list[Path], typer.Argument(help="Raw RFC 822 messages (.eml).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Classify only; change nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per file.")] = False,
) -> None:
    """Classify inbound mail (reply, auto-reply, bounce, complaint, unsubscribe) and apply it."""
    from cadence.inbound.processing import MAX_MESSAGE_BYTES, process_inbound

    unreadable = 0
    table = Table(title="Inbound" + (" (dry run: nothing changed)" if dry_run else ""))
    for column in ("file", "kind", "bounce", "prospect", "return", "effect"):
        table.add_column(column, overflow="fold")
    with app_context() as ctx:
        for path in files:
            try:
                if path.stat().st_size > MAX_MESSAGE_BYTES:
                    raise InputError(f"{path}: larger than {MAX_MESSAGE_BYTES} bytes; not read")
                raw = path.read_bytes()
            except (OSError, InputError) as exc:
                unreadable += 1
                err_console.print(f"error: {path}: {exc}", markup=False, highlight=False)
                continue
            result = process_inbound(ctx, raw, label=str(path), dry_run=dry_run)
            if as_json:
                sys.stdout.write(json.dumps(result.contract_json(), ensure_ascii=False) + "\n")
                continue
            effect = ", ".join(f"{k} {len(v)}" for k, v in result.effects.items() if v)
            if result.duplicate:
                effect = "already recorded"
            table.add_row(
                str(path),
                result.kind,
                result.bounce or "",
                result.prospect or "(unmatched)",
                result.return_date or "",
                effect or "-",
            )
    if not as_json:
        out_console.print(table)
    if unreadable:
        raise typer.Exit(1)

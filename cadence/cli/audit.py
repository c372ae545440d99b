"""``cadence audit``: the managers' touch history, as a table, JSON or CSV."""

import csv
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from cadence.cli.console import out_console, print_json
from cadence.cli.context import app_context
from cadence.cli.options import parse_instant
from cadence.reports.spreadsheet import spreadsheet_row
from cadence.reports.touch_history import TOUCH_FIELDS, event_rows, touch_rows
from cadence.store.database import transaction

#: What the table shows of a touch; JSON and CSV carry every field of ``TOUCH_FIELDS``.
TOUCH_COLUMNS = (
    "prospect",
    "cadence",
    "step",
    "channel",
    "template",
    "status",
    "due_at",
    "sent_at",
    "reason",
)
EVENT_COLUMNS = ("prospect", "kind", "source", "occurred_at", "recorded_at", "actor")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def audit(
    email: Annotated[str | None, typer.Option("--email")] = None,
    owner: Annotated[str | None, typer.Option("--owner")] = None,
    cadence: Annotated[str | None, typer.Option("--cadence")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    events: Annotated[bool, typer.Option("--events", help="Also list events.")] = False,
) -> None:
    """Touch history, one row per touch (and with --events, per event)."""
    after = parse_instant(since, "--since")
    with app_context() as ctx:
        rows = touch_rows(ctx.engine, email=email, owner=owner, cadence=cadence, since=after)
        if fmt is OutputFormat.csv:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(TOUCH_FIELDS))
            writer.writeheader()
            for row in rows:
                writer.writerow(spreadsheet_row(row))
            return
        touches = list(rows)
        with transaction(ctx.engine) as session:
            event_list = list(event_rows(session, email=email, since=after)) if events else []
    if fmt is OutputFormat.json:
        print_json({"touches": touches, "events": event_list} if events else touches)
        return
    table = Table(title="Touches", show_lines=False)
    for column in TOUCH_COLUMNS:
        table.add_column(column, overflow="fold")
    for row in touches:
        table.add_row(*(str(row[c]) if row[c] is not None else "" for c in TOUCH_COLUMNS))
    out_console.print(table)
    if events:
        etable = Table(title="Events")
        for column in EVENT_COLUMNS:
            etable.add_column(column)
        for ev in event_list:
            etable.add_row(*(str(ev[c] or "") for c in EVENT_COLUMNS))
        out_console.print(etable)

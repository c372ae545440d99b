"""``cadence report``: per cadence, step, template version and owner, as tables or JSON."""

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from cadence.cli.console import out_console, print_json, table_cell
from cadence.cli.context import app_context
from cadence.cli.options import parse_instant
from cadence.store.database import transaction

#: The report's sections as the tables show them: title, key in the report, columns.
SECTIONS = (
    (
        "Cadences",
        "cadences",
        (
            "cadence",
            "enrolled",
            "touches",
            "replies",
            "reply_rate",
            "bounces",
            "unsubscribes",
            "median_hours_to_first_touch",
            "reached_touch_7_share",
            "median_touches_before_reply",
        ),
    ),
    ("Steps", "steps", ("cadence", "step", "template", "sent", "replies", "reply_rate")),
    ("Template versions", "templates", ("template", "version", "sent", "replies", "reply_rate")),
    ("Owners", "owners", ("owner", "enrolled", "touches", "replies", "reply_rate")),
)


class ReportFormat(StrEnum):
    table = "table"
    json = "json"


def report(
    since: Annotated[
        str | None, typer.Option("--since", help="Enrolled at or after (ISO).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Enrolled before (ISO).")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.table,
) -> None:
    """Per cadence, step, template version and owner: replies, rates, speed to lead."""
    from cadence.reports.cadence_report import report as build

    start, end = parse_instant(since, "--since"), parse_instant(until, "--until")
    with app_context() as ctx, transaction(ctx.engine) as session:
        result = build(session, since=start, until=end)
    if fmt is ReportFormat.json:
        print_json(result)
        return
    for title, key, columns in SECTIONS:
        table = Table(title=title)
        for column in columns:
            table.add_column(column.replace("_", " "), overflow="fold")
        for row in result[key]:
            table.add_row(*(table_cell(row[c]) for c in columns))
        out_console.print(table)

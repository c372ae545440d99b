"""An SDR's hands on the sequences: ``enroll``, ``event``, ``pause``, ``resume``, ``halt``."""

import csv
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cadence.cli.console import err_console, handle_errors, print_json
from cadence.cli.context import app_context, cli_actor
from cadence.cli.options import JsonFlag, OwnerOption, parse_instant
from cadence.core.domain import EventKind
from cadence.core.errors import InputError
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_by_hand
from cadence.sequences.prospect_import import read_csv_text

CadenceOption = Annotated[str | None, typer.Option("--cadence", help="Only this cadence.")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why, for the audit trail.")]
EmailArgument = Annotated[str, typer.Argument(help="The prospect's email.")]


class ManualEvent(StrEnum):
    reply = "reply"
    bounce = "bounce"
    unsubscribe = "unsubscribe"
    meeting = "meeting"


def enroll(
    cadence: Annotated[str, typer.Argument(help="Cadence name, e.g. seven-touch.")],
    email: Annotated[list[str] | None, typer.Option("--email", help="Repeatable.")] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="CSV with an email column.")
    ] = None,
    owner: OwnerOption = None,
    allow_replied: Annotated[
        bool, typer.Option("--allow-replied", help="Enroll prospects who replied before.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Enroll prospects. Those already in the cadence are reported, never enrolled twice;
    any other problem enrolls nobody. Exit 1 when nobody new was enrolled."""
    emails = list(email or [])
    if csv_file is not None:
        with handle_errors():
            emails.extend(_emails_from_csv(csv_file))
    if not emails:
        raise typer.BadParameter("give --email (repeatable) or --csv FILE")
    with app_context() as ctx:
        result = enroll_prospects(
            ctx, emails, cadence, owner=owner, actor=cli_actor(), allow_replied=allow_replied
        )
    if as_json:
        print_json(
            {
                "cadence": result.cadence,
                "enrolled": list(result.enrolled),
                "already_active": list(result.already_active),
            }
        )
    else:
        for email_address in result.already_active:
            err_console.print(
                f"{email_address}: already active in {result.cadence}; not enrolled twice",
                markup=False,
                highlight=False,
            )
        err_console.print(f"enrolled {len(result.enrolled)} prospects in {result.cadence}")
    if not result.enrolled:
        raise typer.Exit(1)


def _emails_from_csv(path: Path) -> list[str]:
    reader = csv.DictReader(read_csv_text(path).splitlines())
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise InputError(f"{path}:1: no 'email' column")
    column = (reader.fieldnames or [])[fields.index("email")]
    return [row[column] for row in reader if row.get(column)]


def event(
    kind: Annotated[ManualEvent, typer.Argument(help="What happened.")],
    email: Annotated[str, typer.Argument(help="The prospect's email.")],
    at: Annotated[str | None, typer.Option("--at", help="When it happened (ISO 8601).")] = None,
) -> None:
    """Record an event by hand, with the same effects as an inbound one."""
    occurred = parse_instant(at, "--at")
    with app_context() as ctx:
        outcome = record_by_hand(
            ctx, EventKind(kind.value), email, occurred_at=occurred, actor=cli_actor()
        )
    err_console.print(
        f"{kind.value} recorded for {outcome.prospect}: halted {len(outcome.halted)}, "
        f"paused {len(outcome.paused)} enrollments"
        + (", address suppressed" if outcome.suppressed else "")
    )


def pause(email: EmailArgument, cadence: CadenceOption = None, reason: ReasonOption = None) -> None:
    """Pause a prospect's active enrollments."""
    _manual(EventKind.PAUSE, email, cadence, reason)


def resume(
    email: EmailArgument, cadence: CadenceOption = None, reason: ReasonOption = None
) -> None:
    """Resume paused enrollments; the next touch moves to the next open slot."""
    _manual(EventKind.RESUME, email, cadence, reason)


def halt(email: EmailArgument, cadence: CadenceOption = None, reason: ReasonOption = None) -> None:
    """Halt enrollments for good; nothing more is sent in them."""
    _manual(EventKind.HALT, email, cadence, reason)


def _manual(kind: EventKind, email: str, cadence: str | None, reason: str | None) -> None:
    with app_context() as ctx:
        outcome = record_by_hand(
            ctx, kind, email, actor=cli_actor(), cadence=cadence, reason=reason
        )
    changed = outcome.halted or outcome.paused or outcome.resumed
    err_console.print(f"{kind.value}: {len(changed)} enrollments of {outcome.prospect}")

"""Option types several commands share, and reading the date-times users type."""

from datetime import UTC, datetime
from typing import Annotated

import typer

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
OwnerOption = Annotated[str | None, typer.Option("--owner", help="SDR who owns the prospects.")]


def parse_instant(text: str | None, option: str) -> datetime | None:
    """ISO 8601; a time without a zone is taken as UTC (and said so in --help)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 date-time such as 2026-12-01T09:00:00Z",
            param_hint=option,
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

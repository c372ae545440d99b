"""Query and path parameter types shared by the ``/api/v1`` routers.

Every bound here keeps bad input a 422: ids fit a 32-bit INTEGER column, text carries no NUL
(PostgreSQL refuses it), and instants are made aware UTC before they reach the store.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import StringConstraints

from cadence.core.errors import InputError

MAX_ID = 2_147_483_647
NO_NUL = r"^[^\x00]*$"

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")]
Email = Annotated[str | None, Query(max_length=320, pattern=NO_NUL, description="an address")]
Name = Annotated[str | None, Query(max_length=200, pattern=NO_NUL)]
Since = Annotated[datetime | None, Query(description="ISO 8601; without a zone, UTC")]
Until = Annotated[datetime | None, Query(description="ISO 8601, exclusive; without a zone, UTC")]
Text = Annotated[str, StringConstraints(max_length=1000, pattern=NO_NUL)]
EmailText = Annotated[str, StringConstraints(min_length=3, max_length=320, pattern=NO_NUL)]


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a naive instant is taken as UTC (as ``cadence audit --since`` does)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise InputError(f"{value.isoformat()} is out of range") from exc

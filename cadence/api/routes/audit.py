"""``/api/v1/audit`` and ``/api/v1/reports``: read-only views for managers.

There are only GET routes here on purpose: the audit trail is append-only, and no endpoint
(nor CLI command) edits or deletes it.
"""

from collections.abc import Callable, Iterator
from enum import StrEnum
from itertools import chain, islice
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from cadence.core.errors import InputError
from cadence.reports.audit_export import ENTRY_FIELDS, csv_chunks, entry_batches
from cadence.reports.cadence_report import report
from cadence.reports.touch_history import TOUCH_FIELDS, touch_batches
from cadence.store.database import transaction
from cadence.web.errors import CadenceRoute
from cadence.web.params import Email, Name, Offset, Since, Until, as_utc
from cadence.web.security import Analyst, Auditor, Ctx

router = APIRouter(route_class=CadenceRoute, tags=["audit"])


class Format(StrEnum):
    json = "json"
    csv = "csv"


AuditLimit = Annotated[int, Query(ge=1, le=1000, description="rows per JSON page")]
_CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}


class AuditTouch(BaseModel):
    """One touch, as ``cadence audit --format json`` prints it."""

    prospect: str
    cadence: str
    step: int
    channel: str
    template: str
    template_version: str | None
    status: str
    due_at: str
    sent_at: str | None
    message_id: str | None
    reason: str | None
    owner: str
    subject: str | None
    touch_id: int


class AuditEntryRow(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    prospect: str | None
    owner: str | None
    cadence: str | None
    enrollment_id: int | None
    touch_id: int | None
    before: str | None
    after: str | None
    reason: str | None


def _respond(
    batches: Callable[[], Iterator[list[dict[str, Any]]]],
    fmt: Format,
    fields: tuple[str, ...],
    filename: str,
    limit: int,
    offset: int,
) -> Any:
    if fmt is Format.csv:
        return StreamingResponse(
            csv_chunks(batches(), fields),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return list(islice(chain.from_iterable(batches()), offset, offset + limit))


def _check_range(since: Any, until: Any) -> None:
    if since is not None and until is not None and until <= since:
        raise InputError("until must be later than since")


@router.get("/audit", response_model=list[AuditTouch], responses={200: _CSV})
def audit_touches(
    ctx: Ctx,
    who: Auditor,
    prospect: Email = None,
    owner: Name = None,
    cadence: Name = None,
    since: Since = None,
    until: Until = None,
    format: Format = Format.json,
    limit: AuditLimit = 100,
    offset: Offset = 0,
) -> Any:
    """Touch history, oldest due first; ``since``/``until`` bound the due time. With
    ``format=csv`` every matching row is streamed (``limit``/``offset`` apply to JSON)."""
    start, end = as_utc(since), as_utc(until)
    _check_range(start, end)
    return _respond(
        lambda: touch_batches(
            ctx.engine, email=prospect, owner=owner, cadence=cadence, since=start, until=end
        ),
        format,
        TOUCH_FIELDS,
        "touches.csv",
        limit,
        offset,
    )


@router.get("/audit/entries", response_model=list[AuditEntryRow], responses={200: _CSV})
def audit_entries(
    ctx: Ctx,
    who: Auditor,
    prospect: Email = None,
    owner: Name = None,
    cadence: Name = None,
    since: Since = None,
    until: Until = None,
    format: Format = Format.json,
    limit: AuditLimit = 100,
    offset: Offset = 0,
) -> Any:
    """Every state change with who, when, before, after and why, in the order written."""
    start, end = as_utc(since), as_utc(until)
    _check_range(start, end)
    return _respond(
        lambda: entry_batches(
            ctx.engine, email=prospect, owner=owner, cadence=cadence, since=start, until=end
        ),
        format,
        ENTRY_FIELDS,
        "audit.csv",
        limit,
        offset,
    )


@router.get("/reports", tags=["reports"])
def reports(ctx: Ctx, who: Analyst, since: Since = None, until: Until = None) -> dict[str, Any]:
    """Per cadence, step, template version and owner for enrollments made in the range, as
    ``cadence report --format json``."""
    start, end = as_utc(since), as_utc(until)
    _check_range(start, end)
    with transaction(ctx.engine) as session:
        return report(session, since=start, until=end)

"""The append-only audit trail read in keyset batches, each batch its own short transaction,
so an export of a million rows holds neither them all in memory nor a lock (touches are
read the same way by :func:`cadence.reports.touch_history.touch_batches`)."""

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from cadence.reports.spreadsheet import spreadsheet_row
from cadence.reports.touch_history import TOUCH_FIELDS, iso
from cadence.store.database import transaction
from cadence.store.models import AuditEntry, Enrollment, Prospect

ENTRY_FIELDS = (
    "id",
    "at",
    "actor",
    "action",
    "prospect",
    "owner",
    "cadence",
    "enrollment_id",
    "touch_id",
    "before",
    "after",
    "reason",
)


def entry_batches(
    engine: Engine,
    *,
    email: str | None = None,
    owner: str | None = None,
    cadence: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 1000,
) -> Iterator[list[dict[str, Any]]]:
    """Audit entries in the order they were written (``owner`` is the prospect's owner;
    ``cadence`` keeps entries about an enrollment in that cadence)."""
    base = (
        select(AuditEntry, Prospect, Enrollment)
        .join(Prospect, col(Prospect.id) == col(AuditEntry.prospect_id), isouter=True)
        .join(Enrollment, col(Enrollment.id) == col(AuditEntry.enrollment_id), isouter=True)
    )
    if email:
        base = base.where(Prospect.email == email.strip().lower())
    if owner:
        base = base.where(Prospect.owner == owner)
    if cadence:
        base = base.where(Enrollment.cadence == cadence)
    if since:
        base = base.where(col(AuditEntry.at) >= since)
    if until:
        base = base.where(col(AuditEntry.at) < until)
    last_id = 0
    while True:
        query = base.where(col(AuditEntry.id) > last_id).order_by(col(AuditEntry.id)).limit(batch)
        with transaction(engine) as session:
            rows = session.exec(query).all()
        if not rows:
            return
        yield [_entry_row(a, p, e) for a, p, e in rows]
        last_id = rows[-1][0].id or 0
        if len(rows) < batch:
            return


def _entry_row(
    entry: AuditEntry, prospect: Prospect | None, enrollment: Enrollment | None
) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "prospect": prospect.email if prospect else None,
        "owner": prospect.owner if prospect else None,
        "cadence": enrollment.cadence if enrollment else None,
        "enrollment_id": entry.enrollment_id,
        "touch_id": entry.touch_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
    }


def csv_chunks(
    batches: Iterable[list[dict[str, Any]]], fields: Sequence[str] = TOUCH_FIELDS
) -> Iterator[str]:
    """A header, then one chunk of CSV text per batch; text that a spreadsheet would run as a
    formula is prefixed with an apostrophe."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    yield buffer.getvalue()
    for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(spreadsheet_row(row) for row in rows)
        yield buffer.getvalue()

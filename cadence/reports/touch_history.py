"""Touch history for managers: one row per touch, filtered, in the contract's shape, read
in keyset batches, each its own short transaction: an export of a million rows holds neither
them all in memory nor a lock (on SQLite every transaction takes the write lock)."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, or_
from sqlmodel import Session, col, select

from cadence.store.database import transaction
from cadence.store.models import Enrollment, Event, Prospect, Touch

TOUCH_FIELDS = (
    "prospect",
    "cadence",
    "step",
    "channel",
    "template",
    "template_version",
    "status",
    "due_at",
    "sent_at",
    "message_id",
    "reason",
    "owner",
    "subject",
    "touch_id",
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def touch_batches(
    engine: Engine,
    *,
    email: str | None = None,
    owner: str | None = None,
    cadence: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 1000,
) -> Iterator[list[dict[str, Any]]]:
    """Touches oldest due first, in the shape of ``cadence audit`` (:data:`TOUCH_FIELDS`)."""
    base = (
        select(Touch, Enrollment, Prospect)
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .join(Prospect, col(Prospect.id) == col(Touch.prospect_id))
    )
    if email:
        base = base.where(Prospect.email == email.strip().lower())
    if owner:
        base = base.where(Enrollment.owner == owner)
    if cadence:
        base = base.where(Enrollment.cadence == cadence)
    if since:
        base = base.where(col(Touch.due_at) >= since)
    if until:
        base = base.where(col(Touch.due_at) < until)
    last: tuple[datetime, int] | None = None
    while True:
        query = base
        if last is not None:
            query = query.where(
                or_(
                    col(Touch.due_at) > last[0],
                    and_(col(Touch.due_at) == last[0], col(Touch.id) > last[1]),
                )
            )
        query = query.order_by(col(Touch.due_at), col(Touch.id)).limit(batch)
        with transaction(engine) as session:
            rows = session.exec(query).all()
        if not rows:
            return
        yield [touch_row(t, e, p) for t, e, p in rows]
        last = (rows[-1][0].due_at, rows[-1][0].id or 0)
        if len(rows) < batch:
            return


def touch_row(touch: Touch, enrollment: Enrollment, prospect: Prospect) -> dict[str, Any]:
    """One touch in the shape the contract gives for ``cadence audit --format json``."""
    return {
        "prospect": prospect.email,
        "cadence": enrollment.cadence,
        "step": touch.step,
        "channel": touch.channel,
        "template": touch.template,
        "template_version": touch.template_version,
        "status": touch.status,
        "due_at": iso(touch.due_at),
        "sent_at": iso(touch.sent_at),
        "message_id": touch.message_id,
        "reason": touch.reason,
        "owner": enrollment.owner,
        "subject": touch.subject,
        "touch_id": touch.id,
    }


def touch_rows(engine: Engine, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every matching touch, oldest due first, read in short batches."""
    for rows in touch_batches(engine, **filters):
        yield from rows


def event_rows(
    session: Session, *, email: str | None = None, since: datetime | None = None
) -> Iterator[dict[str, Any]]:
    query = select(Event, Prospect).join(
        Prospect, col(Prospect.id) == col(Event.prospect_id), isouter=True
    )
    if email:
        query = query.where(Prospect.email == email.strip().lower())
    if since:
        query = query.where(col(Event.occurred_at) >= since)
    for event, prospect in session.exec(query.order_by(col(Event.recorded_at))):
        yield {
            "event_id": event.id,
            "prospect": prospect.email if prospect else None,
            "kind": event.kind,
            "source": event.source,
            "occurred_at": iso(event.occurred_at),
            "recorded_at": iso(event.recorded_at),
            "actor": event.actor,
        }

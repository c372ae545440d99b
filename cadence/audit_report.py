"""Touch history for managers: one row per touch, filtered, in the contract's shape."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from cadence.models import Enrollment, Event, Prospect, Touch

AUDIT_FIELDS = (
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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def touch_rows(
    session: Session,
    *,
    email: str | None = None,
    owner: str | None = None,
    cadence: str | None = None,
    since: datetime | None = None,
    batch: int = 1000,
) -> Iterator[dict[str, Any]]:
    """Yield touches oldest first, streaming in batches (a million rows never sit in memory)."""
    query = (
        select(Touch, Enrollment, Prospect)
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .join(Prospect, col(Prospect.id) == col(Touch.prospect_id))
    )
    if email:
        query = query.where(Prospect.email == email.strip().lower())
    if owner:
        query = query.where(Enrollment.owner == owner)
    if cadence:
        query = query.where(Enrollment.cadence == cadence)
    if since:
        query = query.where(col(Touch.due_at) >= since)
    query = query.order_by(col(Touch.due_at), col(Touch.id)).execution_options(yield_per=batch)
    for touch, enrollment, prospect in session.exec(query):
        yield {
            "prospect": prospect.email,
            "cadence": enrollment.cadence,
            "step": touch.step,
            "channel": touch.channel,
            "template": touch.template,
            "template_version": touch.template_version,
            "status": touch.status,
            "due_at": _iso(touch.due_at),
            "sent_at": _iso(touch.sent_at),
            "message_id": touch.message_id,
            "reason": touch.reason,
            "owner": enrollment.owner,
            "subject": touch.subject,
            "touch_id": touch.id,
        }


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
            "occurred_at": _iso(event.occurred_at),
            "recorded_at": _iso(event.recorded_at),
            "actor": event.actor,
        }

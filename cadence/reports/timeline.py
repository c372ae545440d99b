"""A prospect's story in order: every touch (with what was sent), every event, every audit
entry. Read by the API and the managers' pages."""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from cadence.store.models import AuditEntry, Enrollment, Event, Prospect, Task, Touch


@dataclass(frozen=True)
class TimelineItem:
    """A touch or an event; ``at`` orders them: a touch's send time (its due time until it
    is sent), an event's occurrence."""

    at: datetime
    kind: str  # "touch" or "event"
    touch: Touch | None = None
    cadence: str | None = None
    task: Task | None = None
    event: Event | None = None


@dataclass(frozen=True)
class Timeline:
    prospect: Prospect
    enrollments: list[Enrollment]
    items: list[TimelineItem]
    audit: list[AuditEntry]


def prospect_timeline(session: Session, prospect: Prospect) -> Timeline:
    assert prospect.id is not None
    enrollments = list(
        session.exec(
            select(Enrollment)
            .where(Enrollment.prospect_id == prospect.id)
            .order_by(col(Enrollment.enrolled_at), col(Enrollment.id))
        )
    )
    cadence_of = {e.id: e.cadence for e in enrollments}
    tasks = {
        t.touch_id: t for t in session.exec(select(Task).where(Task.prospect_id == prospect.id))
    }
    items = [
        TimelineItem(
            at=touch.sent_at or touch.due_at,
            kind="touch",
            touch=touch,
            cadence=cadence_of.get(touch.enrollment_id),
            task=tasks.get(touch.id or 0),
        )
        for touch in session.exec(select(Touch).where(Touch.prospect_id == prospect.id))
    ]
    items += [
        TimelineItem(at=event.occurred_at, kind="event", event=event)
        for event in session.exec(select(Event).where(Event.prospect_id == prospect.id))
    ]
    # At the same instant a touch sorts before an event: a reply answers what was sent.
    items.sort(key=lambda i: (i.at, i.kind == "event", _id(i)))
    audit = list(
        session.exec(
            select(AuditEntry)
            .where(AuditEntry.prospect_id == prospect.id)
            .order_by(col(AuditEntry.at), col(AuditEntry.id))
        )
    )
    return Timeline(prospect, enrollments, items, audit)


def _id(item: TimelineItem) -> int:
    if item.touch is not None:
        return item.touch.id or 0
    return item.event.id or 0 if item.event is not None else 0

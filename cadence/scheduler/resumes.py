"""Out-of-office pauses ended by the scheduler when the return date found in the reply comes."""

from datetime import datetime

from sqlalchemy import BindParameter, ColumnElement, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cadence.authoring.catalog import Catalog
from cadence.core.domain import EnrollmentState
from cadence.sequences.event_effects import resume_enrollment
from cadence.store.models import ENROLLMENTS, Enrollment, Prospect


def resumable(now: BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    """Enrollments an out-of-office reply paused until a return date that has come."""
    return (
        ENROLLMENTS.c.state == EnrollmentState.PAUSED.value,
        ENROLLMENTS.c.resume_at.is_not(None),
        ENROLLMENTS.c.resume_at <= now,
    )


#: Out-of-office pauses resumed in one scheduler tick at most.
RESUME_BATCH = 1000


#: Built once: it runs at every tick, and usually finds nothing.
_DUE_RESUMES = (
    sa_select(ENROLLMENTS.c.id)
    .where(*resumable(bindparam("now")))
    .limit(RESUME_BATCH)  # a mass return resumes over several ticks, never fails one
)


def resume_due(session: Session, catalog: Catalog, *, now: datetime) -> list[int]:
    """Resume enrollments an auto-reply paused until a return date that has come."""
    # Found by the resume_at index first, then locked by id: ordering the search itself by
    # id makes SQLite read every enrollment at each tick to find the few that are due.
    due_ids = session.connection().execute(_DUE_RESUMES, {"now": now}).scalars().all()
    if not due_ids:
        return []
    due = session.exec(
        select(Enrollment)
        .where(
            col(Enrollment.id).in_(due_ids),
            Enrollment.state == EnrollmentState.PAUSED,
            col(Enrollment.resume_at) <= now,
        )
        .order_by(col(Enrollment.id))  # the order every other enrollment lock takes
        .with_for_update()
    ).all()
    for enrollment in due:
        prospect = session.get(Prospect, enrollment.prospect_id)
        assert prospect is not None
        resume_enrollment(
            session,
            catalog,
            enrollment,
            prospect,
            now=now,
            actor="system",
            reason="back from out of office",
        )
    return [e.id for e in due if e.id is not None]

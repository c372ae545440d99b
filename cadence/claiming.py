"""The scheduler's side of the store: find due touches, claim them, and recover lost ones.

The store, not the queue, is the truth: a touch is ``queued`` in the same transaction that
claims it, and one lost on its way through the broker is found again by its age.
"""

from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from cadence.audit_log import record_audit
from cadence.domain import EnrollmentState, TouchStatus
from cadence.models import Enrollment, Touch

#: A queued touch not picked up within this long is enqueued again (duplicates are harmless).
REQUEUE_AFTER = timedelta(minutes=10)
#: A touch still ``sending`` after this long crashed mid-delivery: a person must review it.
UNCONFIRMED_AFTER = timedelta(minutes=15)


def claim_due(session: Session, *, now: datetime, limit: int, skip_locked: bool) -> list[int]:
    """Move up to ``limit`` due touches of active enrollments to ``queued``; their ids.

    With ``skip_locked`` (PostgreSQL) two schedulers never claim the same rows; the guarded
    UPDATE keeps it true on SQLite as well.
    """
    query = (
        select(Touch.id)
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(
            Touch.status == TouchStatus.SCHEDULED,
            col(Touch.due_at) <= now,
            Enrollment.state == EnrollmentState.ACTIVE,
        )
        .order_by(col(Touch.due_at))
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(of=Touch, skip_locked=True)
    ids = [i for i in session.exec(query) if i is not None]
    if ids:
        session.exec(
            update(Touch)
            .where(col(Touch.id).in_(ids), col(Touch.status) == TouchStatus.SCHEDULED)
            .values(status=TouchStatus.QUEUED, queued_at=now)
        )
    return ids


def stale_queued(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Queued touches nobody picked up; refreshed so each is re-sent to the broker once."""
    ids = [
        i
        for i in session.exec(
            select(Touch.id)
            .where(
                Touch.status == TouchStatus.QUEUED,
                col(Touch.queued_at) < now - REQUEUE_AFTER,
            )
            .limit(limit)
        )
        if i is not None
    ]
    if ids:
        session.exec(
            update(Touch)
            .where(col(Touch.id).in_(ids), col(Touch.status) == TouchStatus.QUEUED)
            .values(queued_at=now)
        )
    return ids


def mark_unconfirmed(session: Session, *, now: datetime) -> int:
    """Touches stuck in ``sending`` may or may not have left: flag them, never re-send."""
    stuck = session.exec(
        select(Touch).where(
            Touch.status == TouchStatus.SENDING,
            col(Touch.started_at) < now - UNCONFIRMED_AFTER,
        )
    ).all()
    for touch in stuck:
        touch.status = TouchStatus.UNCONFIRMED
        touch.reason = "delivery outcome unknown (worker stopped mid-send); review before resending"
        session.add(touch)
        record_audit(
            session,
            at=now,
            action="touch:unconfirmed",
            prospect_id=touch.prospect_id,
            enrollment_id=touch.enrollment_id,
            touch_id=touch.id,
            before="sending",
            after="unconfirmed",
            reason=touch.reason,
        )
    return len(stuck)


def next_due_at(session: Session) -> datetime | None:
    """When the earliest scheduled touch of an active enrollment falls due."""
    return session.exec(
        select(func.min(Touch.due_at))
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(Touch.status == TouchStatus.SCHEDULED, Enrollment.state == EnrollmentState.ACTIVE)
    ).one()

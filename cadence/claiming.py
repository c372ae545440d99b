"""The scheduler's side of the store: find due touches, claim them, and recover lost ones.

The store, not the queue, is the truth: a touch is ``queued`` in the same transaction that
claims it, and one lost on its way through the broker is found again by its age.
"""

from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from cadence.domain import EnrollmentState, TouchStatus
from cadence.models import Enrollment, Touch
from cadence.transitions import move_touch

#: A queued touch not picked up within this long is enqueued again (duplicates are harmless).
REQUEUE_AFTER = timedelta(minutes=10)
#: A touch lost this many times on its way to a worker is failed instead of sent again.
MAX_ENQUEUES = 6
#: A touch still ``sending`` after this long crashed mid-delivery: a person must review it.
UNCONFIRMED_AFTER = timedelta(minutes=15)


def claim_due(session: Session, *, now: datetime, limit: int, skip_locked: bool) -> list[int]:
    """Move up to ``limit`` due touches of active enrollments to ``queued``; their ids.

    With ``skip_locked`` (PostgreSQL) two schedulers never wait on each other's rows, and
    never claim the same ones.
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
    # Move a selected touch only if it is still scheduled: a concurrent scheduler may have
    # claimed it since. SQLite needs no guard, its transactions holding the one write lock
    # from BEGIN, and there the guard makes the planner scan every scheduled touch.
    still_scheduled = []
    if session.get_bind().dialect.name != "sqlite":
        still_scheduled.append(col(Touch.status) == TouchStatus.SCHEDULED)
    # One statement: select-and-lock the due rows and move them, returning exactly the ids
    # this claim moved (no thousand bound parameters sent back to the server).
    claimed = session.execute(
        update(Touch)
        .where(col(Touch.id).in_(query.scalar_subquery()), *still_scheduled)
        .values(status=TouchStatus.QUEUED, queued_at=now, enqueues=Touch.enqueues + 1)
        .returning(col(Touch.id))
    )
    return sorted(claimed.scalars())


def unclaim(session: Session, ids: list[int]) -> None:
    """Put touches that never reached the broker back to ``scheduled``, uncounted."""
    session.exec(
        update(Touch)
        .where(col(Touch.id).in_(ids), col(Touch.status) == TouchStatus.QUEUED)
        .values(status=TouchStatus.SCHEDULED, queued_at=None, enqueues=Touch.enqueues - 1)
    )


def stale_queued(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Queued touches nobody picked up, to send to the broker again.

    Each re-send waits twice as long as the one before (a long backlog is not a loss), and a
    touch lost :data:`MAX_ENQUEUES` times is failed for a person to look at.
    """
    candidates = session.exec(
        select(Touch)
        .where(Touch.status == TouchStatus.QUEUED, col(Touch.queued_at) < now - REQUEUE_AFTER)
        .order_by(col(Touch.queued_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    ids: list[int] = []
    for touch in candidates:
        assert touch.queued_at is not None and touch.id is not None
        if touch.enqueues >= MAX_ENQUEUES:
            why = f"lost on the way to a worker {touch.enqueues} times"
            move_touch(session, touch, TouchStatus.FAILED, reason=why, now=now)
            continue
        if touch.queued_at > now - REQUEUE_AFTER * 2 ** max(touch.enqueues - 1, 0):
            continue
        touch.queued_at = now
        touch.enqueues += 1
        session.add(touch)
        ids.append(touch.id)
    return ids


def mark_unconfirmed(session: Session, *, now: datetime) -> int:
    """Touches stuck in ``sending`` may or may not have left: flag them, never re-send."""
    # FOR UPDATE re-checks the status after any concurrent commit (PostgreSQL), so a touch
    # a worker just recorded as sent is never overwritten.
    stuck = session.exec(
        select(Touch)
        .where(
            Touch.status == TouchStatus.SENDING,
            col(Touch.started_at) < now - UNCONFIRMED_AFTER,
        )
        .with_for_update(skip_locked=True)
    ).all()
    why = "delivery outcome unknown (worker stopped mid-send); review before resending"
    for touch in stuck:
        move_touch(session, touch, TouchStatus.UNCONFIRMED, reason=why, now=now)
    return len(stuck)


def next_due_at(session: Session) -> datetime | None:
    """When something next needs the scheduler: the earliest scheduled touch of an active
    enrollment, or an out-of-office pause that ends."""
    # ORDER BY … LIMIT 1, not MIN(): the index on (status, due_at) is walked in order and
    # stops at the first active enrollment, where MIN() over the join reads every scheduled
    # touch (one per live enrollment) at each call.
    touch_due = session.exec(
        select(Touch.due_at)
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(Touch.status == TouchStatus.SCHEDULED, Enrollment.state == EnrollmentState.ACTIVE)
        .order_by(col(Touch.due_at))
        .limit(1)
    ).first()
    resume = session.exec(
        select(func.min(Enrollment.resume_at)).where(Enrollment.state == EnrollmentState.PAUSED)
    ).one()
    return min((t for t in (touch_due, resume) if t is not None), default=None)

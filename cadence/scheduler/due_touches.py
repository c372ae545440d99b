"""The scheduler's side of the store: find due touches, claim them, and recover lost ones.

The store, not the queue, is the truth: a touch is ``queued`` in the same transaction that
claims it, and one lost on its way through the broker is found again by its age.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Update,
    bindparam,
    exists,
    func,
    select,
    true,
    update,
)
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from cadence.core.domain import EnrollmentState, TouchStatus
from cadence.scheduler.resumes import resumable
from cadence.store.models import ENROLLMENTS, MAILBOX_STATES, TOUCHES, Touch
from cadence.store.transitions import move_touch

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
    statement = _claim_statement(session.get_bind().dialect.name, skip_locked)
    claimed = session.connection().execute(statement, {"now": now, "limit": limit})
    return sorted(claimed.scalars())


@cache
def _claim_statement(dialect: str, skip_locked: bool) -> Update:
    """Built once per store kind: the embedded demo ticks thousands of times, and building
    the statement cost more than running it."""
    due = (
        select(TOUCHES.c.id)
        .join(ENROLLMENTS, ENROLLMENTS.c.id == TOUCHES.c.enrollment_id)
        .where(
            TOUCHES.c.status == TouchStatus.SCHEDULED.value,
            TOUCHES.c.due_at <= bindparam("now"),
            ENROLLMENTS.c.state == EnrollmentState.ACTIVE.value,
        )
        .order_by(TOUCHES.c.due_at)
        .limit(bindparam("limit", type_=Integer))
    )
    if skip_locked:
        due = due.with_for_update(of=TOUCHES, skip_locked=True)
    # Move a selected touch only if it is still scheduled: a concurrent scheduler may have
    # claimed it since. SQLite needs no guard, its transactions holding the one write lock
    # from BEGIN, and there the guard makes the planner scan every scheduled touch.
    still_scheduled = []
    if dialect != "sqlite":
        still_scheduled.append(TOUCHES.c.status == TouchStatus.SCHEDULED.value)
    # One statement: select-and-lock the due rows and move them, returning exactly the ids
    # this claim moved (no thousand bound parameters sent back to the server).
    return (
        update(TOUCHES)
        .where(TOUCHES.c.id.in_(due.scalar_subquery()), *still_scheduled)
        .values(
            status=TouchStatus.QUEUED.value,
            queued_at=bindparam("now"),
            enqueues=TOUCHES.c.enqueues + 1,
        )
        .returning(TOUCHES.c.id)
    )


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
    if not _any(session, _ANY_STALE, before=now - REQUEUE_AFTER):
        return []
    candidates = session.exec(
        orm_select(Touch)
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
    if not _any(session, _ANY_STUCK, before=now - UNCONFIRMED_AFTER):
        return 0
    # FOR UPDATE re-checks the status after any concurrent commit (PostgreSQL), so a touch
    # a worker just recorded as sent is never overwritten.
    stuck = session.exec(
        orm_select(Touch)
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


def next_due_at(connection: Connection) -> datetime | None:
    """When something next needs the scheduler: the earliest scheduled touch of an active
    enrollment, or an out-of-office pause that ends."""
    touch_due = connection.execute(_NEXT_TOUCH_DUE).scalar()
    resume = connection.execute(_NEXT_RESUME).scalar()
    return min((t for t in (touch_due, resume) if t is not None), default=None)


# ORDER BY … LIMIT 1, not MIN(): the index on (status, due_at) is walked in order and stops
# at the first active enrollment, where MIN() over the join reads every scheduled touch (one
# per live enrollment) at each call.
_NEXT_TOUCH_DUE = (
    select(TOUCHES.c.due_at)
    .join(ENROLLMENTS, ENROLLMENTS.c.id == TOUCHES.c.enrollment_id)
    .where(
        TOUCHES.c.status == TouchStatus.SCHEDULED.value,
        ENROLLMENTS.c.state == EnrollmentState.ACTIVE.value,
    )
    .order_by(TOUCHES.c.due_at)
    .limit(1)
)
#: IS NOT NULL lets SQLite start its walk of the resume_at index after the NULLs, which are
#: every enrollment not paused for a return date.
_NEXT_RESUME = select(func.min(ENROLLMENTS.c.resume_at)).where(
    ENROLLMENTS.c.state == EnrollmentState.PAUSED.value, ENROLLMENTS.c.resume_at.is_not(None)
)


# Each question a tick asks, defined once: the sweeps' own probes and the tick's one read
# (and the resume's search) share them.
def _queued_before(before: BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    return (TOUCHES.c.status == TouchStatus.QUEUED.value, TOUCHES.c.queued_at < before)


def _started_sending_before(before: BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    return (TOUCHES.c.status == TouchStatus.SENDING.value, TOUCHES.c.started_at < before)


#: Cheap probes run at every tick: the sweeps load and lock rows only when there are some.
_ANY_STALE = select(TOUCHES.c.id).where(*_queued_before(bindparam("before"))).limit(1)
_ANY_STUCK = select(TOUCHES.c.id).where(*_started_sending_before(bindparam("before"))).limit(1)


def _any(session: Session, probe: Select[tuple[int]], *, before: datetime) -> bool:
    return session.connection().execute(probe, {"before": before}).first() is not None


@dataclass(frozen=True)
class TickWork:
    """What a tick has to do besides claiming, read before it takes any write lock."""

    sweep: bool
    resume: bool
    #: A mailbox had a hard bounce or complaint counted: the deliverability guard judges it.
    guard: bool


#: The sweeps' probes and the resumes' in one read: at most ticks they all find nothing,
#: and each empty write transaction taken to learn it held SQLite's one write lock.
_TICK_WORK = select(
    exists().where(*_queued_before(bindparam("stale_before"))),
    exists().where(*_started_sending_before(bindparam("stuck_before"))),
    exists().where(*resumable(bindparam("now"))),
    # One row per SDR mailbox at most: no index needed.
    exists().where(MAILBOX_STATES.c.guard_due == true()),
)


def tick_work(connection: Connection, *, now: datetime) -> TickWork:
    stale, stuck, resume, guard = connection.execute(
        _TICK_WORK,
        {
            "stale_before": now - REQUEUE_AFTER,
            "stuck_before": now - UNCONFIRMED_AFTER,
            "now": now,
        },
    ).one()
    return TickWork(sweep=bool(stale or stuck), resume=bool(resume), guard=bool(guard))

"""Halting a prospect's live enrollments: locked in the order every enrollment lock takes,
halted with their audit entries, and their unstarted touches and open tasks cancelled."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session

from cadence.core.domain import (
    LIVE_ENROLLMENT_STATES,
    EnrollmentState,
    TouchStatus,
)
from cadence.store.audit_log import record_audits
from cadence.store.models import (
    ENROLLMENTS,
    TASKS,
    TOUCHES,
    Enrollment,
    Task,
    Touch,
)
from cadence.store.rows import (
    ENROLLMENT_VIEW_COLUMNS,
    EnrollmentView,
    expire_loaded,
)
from cadence.store.sql_lists import in_list
from cadence.store.transitions import enrollment_moved

#: Rows, not models: a reply reads and halts them with Core statements (through the ORM a
#: reply costs much more); in id order, the order every enrollment lock takes.
_LOCK_LIVE_ENROLLMENTS = (
    sa_select(*ENROLLMENT_VIEW_COLUMNS)
    .where(
        ENROLLMENTS.c.prospect_id == bindparam("prospect_id"),
        ENROLLMENTS.c.state.in_([s.value for s in LIVE_ENROLLMENT_STATES]),
    )
    .order_by(ENROLLMENTS.c.id)
    .with_for_update()
)


def lock_live_enrollments(session: Session, prospect_id: int) -> list[EnrollmentView]:
    """The prospect's active and paused enrollments, locked until the caller commits; as
    the session has them (its pending changes, an earlier event's pause, are written first,
    as an ORM query would)."""
    session.flush()
    rows = session.connection().execute(_LOCK_LIVE_ENROLLMENTS, {"prospect_id": prospect_id})
    return [cast(EnrollmentView, row) for row in rows]


_HALT_ENROLLMENT = (
    update(ENROLLMENTS)
    .where(ENROLLMENTS.c.id == bindparam("enrollment_id"))
    .values(
        state=EnrollmentState.HALTED.value, reason=bindparam("why"), updated_at=bindparam("now")
    )
)


def halt_enrollments(
    session: Session,
    enrollments: Sequence[EnrollmentView],
    *,
    reason: str,
    now: datetime,
    actor: str,
    first_entries: Sequence[dict[str, Any]] = (),
) -> None:
    """Halt the (locked) enrollments, each with its audit entry, and cancel what they have
    not started, so claims see the halt; written as rows, and a model of one that the
    session holds is refreshed at its next read. ``first_entries`` (the halting event's)
    are written before the halts' entries, in the same statement."""
    if not enrollments:
        record_audits(session, first_entries)
        return
    session.flush()  # the caller's changes first, as with the rest of the transaction
    session.connection().execute(
        _HALT_ENROLLMENT,
        [{"enrollment_id": e.id, "why": reason, "now": now} for e in enrollments],
    )
    halted = EnrollmentState.HALTED
    moved = [enrollment_moved(e, halted, reason=reason, now=now, actor=actor) for e in enrollments]
    record_audits(session, [*first_entries, *moved])
    expire_loaded(session, Enrollment, [e.id for e in enrollments])
    for enrollment in enrollments:
        assert enrollment.id is not None
        cancel_pending_touches(session, enrollment.id, reason=f"halted: {reason}")


def cancel_pending_touches(session: Session, enrollment_id: int, *, reason: str) -> int:
    """Cancel touches that have not started delivery, and the SDR's open tasks of this
    enrollment (nobody should call a prospect who replied or unsubscribed); the number of
    touches cancelled. Set-based: a reply costs a few statements, not an object each."""
    session.flush()  # the caller's changes first; models of these rows are expired below
    connection = session.connection()
    tasks = connection.execute(_TASKS_OF_ENROLLMENT, {"of_enrollment": enrollment_id}).all()
    open_tasks = [task_id for task_id, status in tasks if status == "open"]
    if open_tasks:
        connection.execute(_CANCEL_TASKS, {"ids": open_tasks, "why": reason[:200]})
    cancelled = (
        connection.execute(_CANCEL_TOUCHES, {"of_enrollment": enrollment_id, "why": reason})
        .scalars()
        .all()
    )
    expire_loaded(session, Task, open_tasks)
    expire_loaded(session, Touch, cancelled)
    return len(cancelled)


# The enrollment's few tasks, found from its touches, then the open ones among them: with the
# status in the query SQLite's planner read every open task of every SDR (the status index)
# at each reply.
_TASKS_OF_ENROLLMENT = sa_select(TASKS.c.id, TASKS.c.status).where(
    TASKS.c.touch_id.in_(
        sa_select(TOUCHES.c.id).where(TOUCHES.c.enrollment_id == bindparam("of_enrollment"))
    )
)


_CANCEL_TASKS = (
    update(TASKS)
    .where(in_list(TASKS.c.id, "ids"), TASKS.c.status == "open")
    .values(status="cancelled", outcome=bindparam("why"))
)


_CANCEL_TOUCHES = (
    update(TOUCHES)
    .where(
        TOUCHES.c.enrollment_id == bindparam("of_enrollment"),
        TOUCHES.c.status.in_([TouchStatus.SCHEDULED.value, TouchStatus.QUEUED.value]),
    )
    .values(status=TouchStatus.CANCELLED.value, reason=bindparam("why"))
    .returning(TOUCHES.c.id)
)

"""``cadence status``: what an operator checks first — backlog, queue, stuck and unconfirmed
touches, SDR mailboxes that cannot send or be read — read from the store (the truth) and,
when configured, from Redis."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from cadence.core.domain import EnrollmentState, TouchStatus
from cadence.reports.mailboxes import unhealthy_mailboxes
from cadence.store.models import Enrollment, Task, Touch


def store_health(session: Session, *, now: datetime) -> dict[str, Any]:
    by_status = dict(
        session.exec(select(Touch.status, func.count()).group_by(col(Touch.status))).all()
    )
    due = (
        select(Touch)
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(
            Touch.status == TouchStatus.SCHEDULED,
            col(Touch.due_at) <= now,
            Enrollment.state == EnrollmentState.ACTIVE,
        )
    )
    backlog = session.exec(select(func.count()).select_from(due.subquery())).one()
    oldest = session.exec(
        select(func.min(Touch.due_at))
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(
            Touch.status == TouchStatus.SCHEDULED,
            col(Touch.due_at) <= now,
            Enrollment.state == EnrollmentState.ACTIVE,
        )
    ).one()
    oldest_queued = session.exec(
        select(func.min(Touch.queued_at)).where(Touch.status == TouchStatus.QUEUED)
    ).one()
    overdue = session.exec(
        select(func.count()).select_from(Task).where(Task.status == "open", Task.due_at < now)
    ).one()
    enrollments = dict(
        session.exec(select(Enrollment.state, func.count()).group_by(col(Enrollment.state))).all()
    )
    return {
        "now": now.isoformat(),
        "due_backlog": backlog,
        "oldest_due_at": oldest.isoformat() if oldest else None,
        "oldest_due_seconds": round((now - oldest).total_seconds()) if oldest else 0,
        "queued": by_status.get(TouchStatus.QUEUED, 0),
        "oldest_queued_at": oldest_queued.isoformat() if oldest_queued else None,
        "sending": by_status.get(TouchStatus.SENDING, 0),
        "unconfirmed": by_status.get(TouchStatus.UNCONFIRMED, 0),
        "failed": by_status.get(TouchStatus.FAILED, 0),
        "touches_by_status": by_status,
        "enrollments_by_state": enrollments,
        "overdue_tasks": overdue,
        "unhealthy_mailboxes": unhealthy_mailboxes(session),
    }


def broker_depth(redis_url: str, queue: str, namespace: str = "dramatiq") -> dict[str, int]:
    """Messages waiting in dramatiq's Redis queue and its delay queue; each message holds up
    to ``delivery_batch_size`` touches (the store's ``queued`` count is the touch figure)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        return {
            "waiting": int(client.hlen(f"{namespace}:{queue}.msgs")),
            "delayed": int(client.hlen(f"{namespace}:{queue}.DQ.msgs")),
        }
    finally:
        client.close()

"""Per-mailbox send limits: a daily cap and a per-minute throttle for each SDR.

A touch over a limit is never dropped: it moves to the next moment the limit allows (the
next UTC day for the cap, the next minute for the throttle), then into its send window.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from cadence.config_files import Sender
from cadence.domain import Channel, TouchStatus
from cadence.models import Enrollment, Touch

_STARTED = (TouchStatus.SENDING, TouchStatus.SENT, TouchStatus.UNCONFIRMED)


@dataclass(frozen=True)
class SendLimit:
    reason: str
    not_before: datetime


def send_limit(session: Session, sender: Sender, *, now: datetime) -> SendLimit | None:
    """Whether one more email from ``sender`` now would break a limit, and until when.

    One query counts both windows (an index on ``touch.started_at`` keeps it to today's rows).
    """
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    minute_ago = now - timedelta(minutes=1)
    today, last_minute = session.exec(
        select(
            func.count(),
            func.coalesce(func.sum(case((col(Touch.started_at) >= minute_ago, 1), else_=0)), 0),
        )
        .select_from(Touch)
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(
            col(Touch.started_at) >= day_start,
            Enrollment.owner == sender.name,
            Touch.channel == Channel.EMAIL,
            col(Touch.status).in_([s.value for s in _STARTED]),
        )
    ).one()
    if today >= sender.daily_cap:
        return SendLimit(
            f"daily cap of {sender.daily_cap} emails for {sender.email} reached",
            day_start + timedelta(days=1),
        )
    if last_minute >= sender.per_minute:
        return SendLimit(
            f"{sender.per_minute} emails a minute for {sender.email} reached",
            now + timedelta(minutes=1),
        )
    return None

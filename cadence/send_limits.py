"""Per-mailbox send limits: a daily cap and a per-minute throttle for each SDR.

A touch over a limit is never dropped: it moves to the next moment the limit allows (the
next UTC day for the cap, the next minute for the throttle), then into its send window.
The daily cap is a counter row per mailbox and day, taken in the claim's transaction (it
counts send attempts, so a retried send counts twice: the cap errs on the safe side).
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, func, select

from cadence.config_files import Sender
from cadence.domain import Channel, TouchStatus
from cadence.models import Enrollment, MailboxDay, Touch

_STARTED = (TouchStatus.SENDING, TouchStatus.SENT, TouchStatus.UNCONFIRMED)


@dataclass(frozen=True)
class SendLimit:
    reason: str
    not_before: datetime


def _locked_day(session: Session, sender: Sender, day: date) -> MailboxDay:
    """The mailbox's counter row for ``day``, created if needed and locked until the claim
    commits: claims of one mailbox serialize here, so two workers cannot both take the last
    send of a minute or a day (on SQLite the write lock already serializes them)."""
    query = (
        select(MailboxDay)
        .where(col(MailboxDay.owner) == sender.name, col(MailboxDay.day) == day)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = session.exec(query).first()
    if row is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.exec(
            insert(MailboxDay)
            .values(owner=sender.name, day=day, started=0)
            .on_conflict_do_nothing()
        )
        row = session.exec(query).one()
    return row


def send_limit(session: Session, sender: Sender, *, now: datetime) -> SendLimit | None:
    """Take one send from ``sender``'s allowance, or say which limit stops it and until when.

    Call it only for a touch about to start: when it returns None the day's counter has been
    taken, in the caller's transaction.
    """
    counter = _locked_day(session, sender, now.date())
    minute_ago = now - timedelta(minutes=1)
    last_minute = session.exec(
        select(func.count())
        .select_from(Touch)
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(
            col(Touch.started_at) >= minute_ago,
            Enrollment.owner == sender.name,
            Touch.channel == Channel.EMAIL,
            col(Touch.status).in_([s.value for s in _STARTED]),
        )
    ).one()
    if last_minute >= sender.per_minute:
        return SendLimit(
            f"{sender.per_minute} emails a minute for {sender.email} reached",
            now + timedelta(minutes=1),
        )
    if counter.started >= sender.daily_cap:
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return SendLimit(
            f"daily cap of {sender.daily_cap} emails for {sender.email} reached",
            day_start + timedelta(days=1),
        )
    counter.started += 1
    session.add(counter)
    return None

"""The deliverability guard's counts in the store: each hard bounce and complaint is counted
on the mailbox-day row of the email it answers (the last one sent to the prospect), so a
window of those rows holds its sends and what came back of those very sends.

The caller owns the transaction. Nothing here runs on a send's path: only when a bounce or
complaint is recorded (which marks the mailbox ``guard_due``), when the scheduler's tick
judges the marked mailboxes (one grouped read of their window's rows), and when a person
resumes one."""

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, and_, bindparam, exists, func, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from cadence.core.domain import TouchStatus
from cadence.core.mailbox_rules import HEALTH_PAUSED, DeliveryRecord
from cadence.store.models import MAILBOX_DAYS, MAILBOX_STATES, TOUCHES
from cadence.store.sql_lists import in_list

#: The mailbox and day of the last email sent to a prospect (by the prospect_id index).
_LAST_SENT = (
    select(TOUCHES.c.mailbox, TOUCHES.c.sent_at)
    .where(
        TOUCHES.c.prospect_id == bindparam("prospect_id"),
        TOUCHES.c.status == TouchStatus.SENT.value,
        TOUCHES.c.channel == "email",
        TOUCHES.c.mailbox.is_not(None),
    )
    .order_by(TOUCHES.c.sent_at.desc())
    .limit(1)
)

BadOutcome = Literal["hard_bounces", "complaints", "rejections"]


def count_bad_outcome(
    session: Session, prospect_id: int, what: BadOutcome, *, now: datetime
) -> str | None:
    """Count a hard bounce or a complaint of the prospect against the mailbox that last
    emailed them, on that email's day, and mark the mailbox for the guard to judge; returns
    the mailbox (None if no email of the store's went to them)."""
    session.flush()
    found = session.connection().execute(_LAST_SENT, {"prospect_id": prospect_id}).first()
    if found is None or found.sent_at is None:
        return None
    owner, day = found.mailbox, found.sent_at.date()
    column = MAILBOX_DAYS.c[what]
    connection = session.connection()
    dialect = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    counted: Any = dialect(MAILBOX_DAYS).values(owner=owner, day=day, **{what: 1})
    connection.execute(
        counted.on_conflict_do_update(
            index_elements=[MAILBOX_DAYS.c.owner, MAILBOX_DAYS.c.day],
            set_={what: column + 1},
        )
    )
    marked: Any = dialect(MAILBOX_STATES).values(
        owner=owner, health="ok", changed_at=now, guard_due=True
    )
    connection.execute(
        marked.on_conflict_do_update(
            index_elements=[MAILBOX_STATES.c.owner], set_={"guard_due": True}
        )
    )
    return str(owner)


_TAKE_MARKS = (
    update(MAILBOX_STATES)
    .where(MAILBOX_STATES.c.guard_due == true())
    .values(guard_due=False)
    .returning(MAILBOX_STATES.c.owner)
)


def take_guard_marks(session: Session) -> list[str]:
    """The mailboxes marked for judging, unmarked: taken before their counts are read, so a
    bounce counted meanwhile marks its mailbox again for the next tick."""
    return sorted(session.connection().execute(_TAKE_MARKS).scalars())


_PAUSED = exists().where(
    MAILBOX_STATES.c.owner == MAILBOX_DAYS.c.owner, MAILBOX_STATES.c.health == HEALTH_PAUSED
)
_BAD_OUTCOMES = MAILBOX_DAYS.c.hard_bounces + MAILBOX_DAYS.c.complaints + MAILBOX_DAYS.c.rejections
#: Per mailbox that is not paused and had a bounce or complaint: the window's sums.
_WINDOWS = (
    select(
        MAILBOX_DAYS.c.owner,
        func.sum(MAILBOX_DAYS.c.started - MAILBOX_DAYS.c.forgiven_sends),
        func.sum(MAILBOX_DAYS.c.hard_bounces),
        func.sum(MAILBOX_DAYS.c.complaints),
        func.sum(MAILBOX_DAYS.c.rejections),
    )
    .where(
        in_list(MAILBOX_DAYS.c.owner, "owners"), MAILBOX_DAYS.c.day >= bindparam("since"), ~_PAUSED
    )
    .group_by(MAILBOX_DAYS.c.owner)
    .having(
        func.sum(
            MAILBOX_DAYS.c.hard_bounces + MAILBOX_DAYS.c.complaints + MAILBOX_DAYS.c.rejections
        )
        > 0
    )
)


def delivery_records(
    connection: Connection, owners: Sequence[str], *, since: date
) -> Mapping[str, DeliveryRecord]:
    """Of ``owners``, each mailbox not paused with a bounce or complaint in its rows from
    ``since`` (a UTC day) on: its sends, hard bounces and complaints there."""
    if not owners:
        return {}
    rows = connection.execute(_WINDOWS, {"owners": list(owners), "since": since})
    return {
        owner: DeliveryRecord(
            int(sends or 0), int(bounces or 0), int(complaints or 0), int(rejections or 0)
        )
        for owner, sends, bounces, complaints, rejections in rows
    }


_FORGIVE = (
    update(MAILBOX_DAYS)
    .where(
        and_(
            MAILBOX_DAYS.c.owner == bindparam("row_owner"),
            MAILBOX_DAYS.c.day >= bindparam("since"),
        )
    )
    .values(hard_bounces=0, complaints=0, rejections=0, forgiven_sends=MAILBOX_DAYS.c.started)
)


def forgive(session: Session, owner: str, *, since: date) -> None:
    """A person resumed the mailbox: the guard counts from here on. What it had counted in
    the rows from ``since`` on (bounces, complaints, sends) no longer counts."""
    session.flush()
    session.connection().execute(_FORGIVE, {"row_owner": owner, "since": since})

"""Per-mailbox send limits: a daily cap and a per-minute throttle for each SDR.

A touch over a limit is never dropped: it moves to the next moment the limit allows (the
next UTC day for the cap, the end of the throttle's minute), then into its send window.
Both limits are counters on one row per mailbox and UTC day, so their cost does not grow
with the day's or the minute's volume: reserved ahead of a claim on PostgreSQL
(:class:`Reservation`), else locked in the claim's transaction (:class:`MailboxAllowance`).
They count send attempts, so a retried send counts twice: the limits err on the safe side.

The throttle's minute starts with the first email after the previous minute ended: at most
``per_minute`` emails start inside it (with ``per_minute = 1``, sends are a minute apart).
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Integer,
    Row,
    String,
    and_,
    bindparam,
    case,
    text,
    update,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from cadence.authoring.config_files import Sender
from cadence.core.send_allowance import (
    THROTTLE_WINDOW,
    MailboxCounter,
    SendLimit,
    take_send,
)
from cadence.store.models import MAILBOX_DAYS, UTCDateTime
from cadence.store.sql_lists import in_list


@dataclass
class _LockedCounter:
    """A locked counter row read as plain values: a claim reads and writes them itself, one
    prebuilt statement each, instead of through ORM objects flushed at commit."""

    owner: str
    day: date
    started: int
    window_started_at: datetime | None
    window_sent: int


class MailboxAllowance:
    """The counter rows of the mailboxes one claim may send from, locked until it commits:
    claims of one mailbox serialize here, so two workers cannot both take the last send of
    a minute or a day (on SQLite the write lock already serializes them). What the claim
    took is written by :meth:`save`, in the same transaction."""

    def __init__(self, counters: Mapping[str, MailboxCounter]) -> None:
        self._counters = counters
        self._taken: set[str] = set()

    @classmethod
    def lock(cls, session: Session, owners: Iterable[str], day: date) -> "MailboxAllowance":
        """Lock (creating if needed) each owner's row for ``day``, in owner order, the same
        order in every claim, so two batches never wait on each other's rows in a cycle.

        On PostgreSQL a day's missing rows are created first, in a transaction of their
        own that does nothing else, and only then are all the rows locked in one ordered
        statement: created inside the claim, an uncommitted row was a lock outside that
        order, and two claims at a mailbox's first send of a day could deadlock."""
        wanted = sorted(set(owners))
        if not wanted:  # a batch of tasks only
            return cls({})
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        postgres = engine.dialect.name == "postgresql"
        known = _known_rows(engine, day) if postgres else set()
        if postgres and not known.issuperset(wanted):
            _create_rows(engine, _absent(session, wanted, day), day)
        counters = {row.owner: row for row in _lock_rows(session, wanted, day)}
        missing = [owner for owner in wanted if owner not in counters]
        if missing:
            if postgres:  # removed since this process saw them: made again, locked last
                _create_rows(engine, missing, day)
            else:  # SQLite: made in the claim, whose one writer cannot deadlock
                _insert_rows(session, missing, day, sqlite_insert)
            counters.update((row.owner, row) for row in _lock_rows(session, missing, day))
        known.update(counters)
        return cls(counters)

    def take(self, sender: Sender, *, now: datetime) -> SendLimit | None:
        """Take one send from ``sender``'s allowance, or say which limit stops it and until
        when (:func:`cadence.core.send_allowance.take_send`). Only for a touch about to
        start: None means the send was counted."""
        limited = take_send(self._counters[sender.name], sender, now=now)
        if limited is None:
            self._taken.add(sender.name)
        return limited

    def save(self, session: Session) -> None:
        """Write the counters of the mailboxes sends were taken from (one executemany)."""
        if not self._taken:
            return
        session.connection().execute(
            _SAVE_COUNTER,
            [
                {
                    "row_owner": counter.owner,
                    "row_day": counter.day,
                    "new_started": counter.started,
                    "new_window_started_at": counter.window_started_at,
                    "new_window_sent": counter.window_sent,
                }
                for counter in (self._counters[owner] for owner in sorted(self._taken))
            ],
        )
        self._taken.clear()


class Reservation:
    """Sends taken from mailboxes ahead of a claim, on PostgreSQL, by one statement committed
    at once: the rows are locked only while the server runs it. Claims of a mailbox
    otherwise wait in turn for its row, each holding its enrollments' locks, which a reply's
    halt waits for; with every batch of a team's claims touching its rows, they queued for
    hundreds of milliseconds under load.

    All or nothing per mailbox, and exactly what :meth:`MailboxAllowance.take` would count
    for as many sends: a mailbox that cannot take them all (near its cap or its minute's
    throttle, or with no row for the day yet) goes through the claim's locked allowance,
    which grants a part and says until when the rest waits. Sends the claim did not use are
    given back when it ends (:meth:`give_back`), all of them if it rolled back; until then,
    and if that fails, they count as taken, on the safe side as retried sends are. Reserved
    only for emails prepared to start (in their window, contactable), few are given back: a
    touch claimed by another worker, or its enrollment halted or changed, between the
    preparation and the claim's locks; or a claim that rolled back.

    ``now`` is the claim's clock too: its sends start in the minute reserved for them."""

    def __init__(self, now: datetime, granted: Mapping[str, tuple[int, datetime]]) -> None:
        self.now = now
        self._granted = {owner: count for owner, (count, _) in granted.items()}
        self._left = dict(self._granted)
        self._windows = {owner: window for owner, (_, window) in granted.items()}

    @classmethod
    def none(cls, now: datetime) -> "Reservation":
        return cls(now, {})

    @property
    def day(self) -> date:
        return self.now.date()

    @classmethod
    def take_ahead(
        cls, connection: Connection, senders: Sequence[Sender], *, now: datetime
    ) -> "Reservation":
        """Reserve a send for each entry of ``senders`` (one per email), every mailbox in
        one statement, which ``connection`` (autocommitting) commits at once."""
        counts = Counter(sender.name for sender in senders)
        if not counts:
            return cls.none(now)
        by_name = {sender.name: sender for sender in senders}
        owners = sorted(counts)
        rows = connection.execute(
            _RESERVE,
            {
                "owners": owners,
                "counts": [counts[owner] for owner in owners],
                "caps": [by_name[owner].daily_cap for owner in owners],
                "per_minutes": [by_name[owner].per_minute for owner in owners],
                "day": now.date(),
                "now": now,
                "expired_before": now - THROTTLE_WINDOW,
            },
        )
        return cls(now, {owner: (counts[owner], window) for owner, window in rows})

    def take(self, sender: Sender) -> bool:
        """Use one of the sends reserved from ``sender``'s mailbox, if one is left."""
        if not self._left.get(sender.name):
            return False
        self._left[sender.name] -= 1
        return True

    def untake(self) -> None:
        """The claim rolled back: none of the sends it took was used."""
        self._left = dict(self._granted)

    def give_back(self, engine: Engine) -> None:
        """Give back the sends the claim did not use (its touches stopped or changed since
        they were prepared, or the claim rolled back); each counted again in its throttle
        minute if that minute still runs."""
        unused = {owner: left for owner, left in self._left.items() if left}
        if not unused:
            return
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            for owner in sorted(unused):
                connection.execute(
                    _GIVE_BACK,
                    {
                        "row_owner": owner,
                        "row_day": self.day,
                        "count": unused[owner],
                        "window": self._windows[owner],
                    },
                )
                self._left[owner] = 0


#: Every mailbox of the claim in one statement: one commit, and each row locked only while
#: the server runs it. Locked in owner order by the sub-select, as the claims' allowance locks
#: them, so two reservations never wait on each other in a cycle. A mailbox is updated only
#: if it can take all its sends (the day's cap, and the throttle minute: a new one starts
#: now if the last is over), exactly as :meth:`MailboxAllowance.take` counts them one by one.
_RESERVE = (
    text(
        """
        UPDATE mailboxday AS m SET
            started = m.started + w.count,
            window_started_at = CASE WHEN m.window_started_at IS NULL
                OR m.window_started_at <= :expired_before THEN :now
                ELSE m.window_started_at END,
            window_sent = CASE WHEN m.window_started_at IS NULL
                OR m.window_started_at <= :expired_before THEN w.count
                ELSE m.window_sent + w.count END
        FROM unnest(
            CAST(:owners AS varchar[]), CAST(:counts AS integer[]),
            CAST(:caps AS integer[]), CAST(:per_minutes AS integer[])
        ) AS w(owner, count, cap, per_minute)
        WHERE m.day = :day AND m.owner = w.owner
          AND m.owner IN (
              SELECT owner FROM mailboxday WHERE day = :day AND owner = ANY(:owners)
              ORDER BY owner FOR UPDATE)
          AND m.started + w.count <= w.cap
          AND CASE WHEN m.window_started_at IS NULL OR m.window_started_at <= :expired_before
              THEN w.count <= w.per_minute
              ELSE m.window_sent + w.count <= w.per_minute END
        RETURNING m.owner, m.window_started_at
        """
    )
    .bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("expired_before", type_=UTCDateTime()),
        bindparam("day", type_=Date()),
    )
    .columns(owner=String(), window_started_at=UTCDateTime())
)
_ROW = (MAILBOX_DAYS.c.owner == bindparam("row_owner"), MAILBOX_DAYS.c.day == bindparam("row_day"))
_COUNT = bindparam("count", type_=Integer)
_SAME_MINUTE = MAILBOX_DAYS.c.window_started_at == bindparam("window", type_=UTCDateTime())
#: A minute the reservation started and no send used ends again: the next send starts one,
#: as :meth:`MailboxAllowance.take` would have it (the minute before had ended).
_MINUTE_UNUSED = and_(_SAME_MINUTE, MAILBOX_DAYS.c.window_sent == _COUNT)
_GIVE_BACK = (
    update(MAILBOX_DAYS)
    .where(*_ROW)
    .values(
        started=MAILBOX_DAYS.c.started - _COUNT,
        window_started_at=case((_MINUTE_UNUSED, None), else_=MAILBOX_DAYS.c.window_started_at),
        window_sent=case(
            (_SAME_MINUTE, MAILBOX_DAYS.c.window_sent - _COUNT), else_=MAILBOX_DAYS.c.window_sent
        ),
    )
)


_LOCK_COUNTERS = (
    sa_select(
        MAILBOX_DAYS.c.owner,
        MAILBOX_DAYS.c.day,
        MAILBOX_DAYS.c.started,
        MAILBOX_DAYS.c.window_started_at,
        MAILBOX_DAYS.c.window_sent,
    )
    .where(
        in_list(MAILBOX_DAYS.c.owner, "owners"),
        MAILBOX_DAYS.c.day == bindparam("day"),
    )
    .order_by(MAILBOX_DAYS.c.owner)
    .with_for_update()
)
_SAVE_COUNTER = (
    update(MAILBOX_DAYS)
    .where(
        MAILBOX_DAYS.c.owner == bindparam("row_owner"),
        MAILBOX_DAYS.c.day == bindparam("row_day"),
    )
    .values(
        started=bindparam("new_started"),
        window_started_at=bindparam("new_window_started_at"),
        window_sent=bindparam("new_window_sent"),
    )
)


def _lock_rows(session: Session, owners: list[str], day: date) -> list[_LockedCounter]:
    rows = session.connection().execute(_LOCK_COUNTERS, {"owners": owners, "day": day})
    return [_LockedCounter(*row) for row in rows]


#: Per store, per UTC day, the mailboxes whose row this process has seen committed: their
#: existence is checked once a day, not at every claim. Only today's and yesterday's are kept.
_KNOWN_ROWS: "WeakKeyDictionary[Engine, dict[date, set[str]]]" = WeakKeyDictionary()


def _known_rows(engine: Engine, day: date) -> set[str]:
    days = _KNOWN_ROWS.setdefault(engine, {})
    if day not in days:
        for old in [d for d in days if d < day - timedelta(days=1)]:
            days.pop(old, None)
    return days.setdefault(day, set())


def _absent(session: Session, owners: list[str], day: date) -> list[str]:
    present = {row.owner for row in _windows(session, owners, day)}
    return [owner for owner in owners if owner not in present]


def _create_rows(engine: Engine, owners: list[str], day: date) -> None:
    """Create the day's rows in owner order, in a transaction of their own that does nothing
    else: it never holds a lock a claim waits on, and waits at most a few seconds on another."""
    if not owners:
        return
    with Session(engine) as own, own.begin():
        own.connection().exec_driver_sql("SET LOCAL lock_timeout = '5s'")
        _insert_rows(own, owners, day, pg_insert)


#: The throttle minutes of some mailboxes' rows of a day (unlocked).
_WINDOWS = sa_select(
    MAILBOX_DAYS.c.owner, MAILBOX_DAYS.c.window_started_at, MAILBOX_DAYS.c.window_sent
).where(
    in_list(MAILBOX_DAYS.c.owner, "owners"),
    MAILBOX_DAYS.c.day == bindparam("day"),
)


def _insert_rows(session: Session, owners: list[str], day: date, insert: Any) -> None:
    """The day's rows of ``owners`` (in their order), with one read and one executemany: a
    large team's first claim of a day makes a row for each SDR, and two ORM statements a
    row add up. A throttle minute that began before midnight still holds
    on the new day's row."""
    before = {
        owner: (started_at, sent)
        for owner, started_at, sent in _windows(session, owners, day - timedelta(days=1))
    }
    rows = []
    for owner in owners:
        window_started_at, window_sent = before.get(owner, (None, 0))
        rows.append(
            {
                "owner": owner,
                "day": day,
                "started": 0,
                "window_started_at": window_started_at,
                "window_sent": window_sent,
            }
        )
    session.connection().execute(insert(MAILBOX_DAYS).on_conflict_do_nothing(), rows)


def _windows(
    session: Session, owners: list[str], day: date
) -> Sequence[Row[str, datetime | None, int]]:
    return session.connection().execute(_WINDOWS, {"owners": owners, "day": day}).all()

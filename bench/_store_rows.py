"""Rows in and out of a benchmark's store: prospects, enrollments and due touches bulk-loaded
with ``COPY``, and the delivery figures read back from the touches."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from _bench_config import OWNERS

#: Prospects per company: replies lock every live enrollment of the account.
PER_COMPANY = 10

PROSPECT_COLS = (
    "id", "email", "first_name", "last_name", "company", "title", "persona", "timezone",
    "country", "stage", "owner", "custom", "do_not_contact", "email_status",
    "unsubscribe_token", "created_at", "updated_at",
)  # fmt: skip
ENROLLMENT_COLS = ("id", "prospect_id", "cadence", "owner", "state", "enrolled_at", "updated_at")
TOUCH_COLS = (
    "id", "enrollment_id", "prospect_id", "step", "channel", "template", "status", "due_at",
    "sent_at", "started_at", "message_id", "subject", "body", "attempts", "enqueues",
)  # fmt: skip
_FIRST = ("Ana", "Ben", "Chloé", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jon")
_PERSONAS = ("ceo", "vp_sales", "revops")


def naive(dt: datetime) -> datetime:
    """``dt`` in UTC without its zone, as the store's timestamp columns hold it."""
    return dt.astimezone(UTC).replace(tzinfo=None)


def copy_rows(
    engine: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY rows into ``table`` through psycopg (fast enough for millions of rows)."""
    raw = engine.raw_connection()
    count = 0
    try:
        conn = raw.driver_connection
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp,
        ):
            for row in rows:
                cp.write_row(row)
                count += 1
        conn.commit()
    finally:
        raw.close()
    return count


def email_of(i: int) -> str:
    """Prospect ``i``'s address, at a company shared with :data:`PER_COMPANY` others."""
    return f"p{i}@co{i // PER_COMPANY}.example"


def prospect_rows(ids: range, now: datetime) -> Iterator[tuple[Any, ...]]:
    at = naive(now)
    for i in ids:
        yield (
            i, email_of(i), _FIRST[i % len(_FIRST)], "Bench", f"Company {i // PER_COMPANY}",
            "CEO", _PERSONAS[i % 3], "UTC", None, "in_profile", OWNERS[i % len(OWNERS)], "{}",
            False, "valid", f"t{i:010d}{secrets.token_hex(6)}", at, at,
        )  # fmt: skip


def enrollment_rows(ids: range, now: datetime) -> Iterator[tuple[Any, ...]]:
    at = naive(now)
    for i in ids:
        yield (i, i, "bench", OWNERS[i % len(OWNERS)], "active", at, at)


def setval(engine: Any, *tables: str) -> None:
    """Move each table's id sequence past the ids COPY wrote, so later inserts do not clash."""
    from sqlalchemy import text

    with engine.begin() as conn:
        for table in tables:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
            )


def load_due_touches(engine: Any, n: int, now: datetime, *, per_second: float = 0) -> None:
    """``n`` prospects, each actively enrolled in ``bench`` with step 1 due: all in the last
    minute, or with ``per_second`` one every ``1 / per_second`` s from ``now`` (a steady
    offered load instead of a backlog)."""
    ids = range(1, n + 1)
    copy_rows(engine, "prospect", PROSPECT_COLS, prospect_rows(ids, now))
    copy_rows(engine, "enrollment", ENROLLMENT_COLS, enrollment_rows(ids, now))
    if per_second:
        first, step = naive(now), 1 / per_second
    else:
        first, step = naive(now - timedelta(minutes=1)), 1e-6

    def touches() -> Iterator[tuple[Any, ...]]:
        for i in ids:
            yield (
                i, i, i, 1, "email", "ceo/intro", "scheduled", first + timedelta(seconds=i * step),
                None, None, None, None, None, 0, 0,
            )  # fmt: skip

    copy_rows(engine, "touch", TOUCH_COLS, touches())
    setval(engine, "prospect", "enrollment", "touch")
    analyze(engine)


def analyze(engine: Any) -> None:
    """Fresh planner statistics after a bulk load, as a long-running store would have."""
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def touch_stats(engine: Any, step: int = 1) -> dict[str, Any]:
    """The touches of ``step`` by status, the first claim and the last send, and with 100 or
    more sent, the send rate over the first, middle 80% and last tenth of them."""
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, count(*) FROM touch WHERE step = :s GROUP BY status"), {"s": step}
        ).all()
        first, last = conn.execute(
            text("SELECT min(queued_at), max(sent_at) FROM touch WHERE step = :s"), {"s": step}
        ).one()
        sent = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT sent_at FROM touch WHERE step = :s AND status = 'sent' ORDER BY sent_at"
                ),
                {"s": step},
            )
        ]
    deciles: dict[str, float] = {}
    tenth = len(sent) // 10
    if tenth >= 10:
        for label, chunk in (
            ("first_tenth_per_s", sent[:tenth]),
            ("last_tenth_per_s", sent[-tenth:]),
            # The same window as the no-op baseline's (end_to_end.run_noop).
            ("middle_80_per_s", sent[tenth:-tenth]),
        ):
            span = (chunk[-1] - chunk[0]).total_seconds()
            deciles[label] = (len(chunk) - 1) / span if span > 0 else float("nan")
    return {
        "statuses": {s: c for s, c in rows},
        "first_claim": first,
        "last_sent": last,
        **deciles,
    }

"""The hot statements' SQLite plans search by the key they are given.

SQLite keeps no statistics unless told to, so its planner may take an index on a column
compared with a constant (``status = 'sent'``) over the ids it was handed, and read every
sent touch of the store at each call: 20 ms a batch at 5,000 prospects. These plans are
read from SQLite itself, on the real schema; PostgreSQL's planner has statistics.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, Update, select

from cadence.delivery import reply_threads
from cadence.demo import reactions as demo
from cadence.scheduler import due_touches as claiming
from cadence.sequences import halting
from cadence.sequences import tasks as sdr_tasks
from cadence.store.rows import (
    _LOCK_ENROLLMENTS_OF_TOUCHES,
    _LOCK_TOUCHES,
    _PROSPECT_BY_EMAIL,
    _PROSPECTS_BY_ID,
)

pytestmark = pytest.mark.integration


def _plan(engine: Engine, statement: Any, params: dict[str, Any]) -> str:
    if isinstance(statement, Update):  # planned as the SELECT of the rows it updates
        statement = select(statement.table).where(statement.whereclause)  # type: ignore[arg-type]
    sql = statement.params(**params).compile(
        dialect=engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    return " | ".join(str(row[-1]) for row in rows)


IDS = {"ids": list(range(1, 31))}  # a batch's worth
#: uq_touch_step (enrollment_id, step): SQLite names a table's unique constraints' indexes.
BY_ENROLLMENT = "sqlite_autoindex_touch_1 (enrollment_id=?)"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("statement", "params", "expected"),
    [
        (reply_threads._SENT_EMAILS, IDS, f"USING INDEX {BY_ENROLLMENT}"),
        (demo._STOP_TOUCHES, IDS, "USING INTEGER PRIMARY KEY"),
        (_LOCK_TOUCHES, IDS, "USING INTEGER PRIMARY KEY"),
        (_PROSPECTS_BY_ID, IDS, "USING INTEGER PRIMARY KEY"),
        (_LOCK_ENROLLMENTS_OF_TOUCHES, IDS, "SEARCH touch USING INTEGER PRIMARY KEY"),
        (claiming._NEXT_RESUME, {}, "ix_enrollment_resume_at (resume_at>?)"),
        (_PROSPECT_BY_EMAIL, {"email": "ann@acme.example"}, "(email=?)"),
        (halting._LOCK_LIVE_ENROLLMENTS, {"prospect_id": 7}, "(prospect_id=?)"),
        (halting._TASKS_OF_ENROLLMENT, {"of_enrollment": 7}, BY_ENROLLMENT),
        (halting._CANCEL_TOUCHES, {"of_enrollment": 7}, BY_ENROLLMENT),
        (sdr_tasks._LOCK_TASKS, IDS, "SEARCH task USING INTEGER PRIMARY KEY"),
    ],
    ids=[
        "bump-parents",
        "demo-stop",
        "claim-touches",
        "claim-prospects",
        "claim-lock",
        "resume",
        "reply-prospect",
        "reply-enrollments",
        "reply-tasks",
        "reply-touches",
        "tasks-done",
    ],
)
def test_a_hot_statement_searches_by_its_key(
    engine: Engine, statement: Any, params: dict[str, Any], expected: str
) -> None:
    plan = _plan(engine, statement, params)
    assert expected in plan, plan
    assert "ix_touch_status_due" not in plan, plan


#: The due touches are found on the status index, bounded by due time.
DUE_ON_STATUS = "ix_touch_status_due (status=? AND due_at<?)"
#: The sweeps' few queued or sending touches, found by status alone.
ON_STATUS = "USING INDEX ix_touch_status_due (status=?)"


@pytest.mark.parametrize(
    ("statement", "params", "expected"),
    [
        (claiming._claim_statement("sqlite", False), {"now": NOW, "limit": 500}, DUE_ON_STATUS),
        (claiming._ANY_STALE, {"before": NOW}, ON_STATUS),
        (claiming._ANY_STUCK, {"before": NOW}, ON_STATUS),
    ],
    ids=["claim-due", "stale-probe", "stuck-probe"],
)
def test_a_tick_finds_its_few_rows_by_status(
    engine: Engine, statement: Any, params: dict[str, Any], expected: str
) -> None:
    """The scheduler's per-tick statements read only the rows in their status (a million
    sent touches must not be walked to find no stuck one)."""
    plan = _plan(engine, statement, params)
    assert expected in plan, plan
    assert "SCAN touch" not in plan, plan


def test_a_ticks_one_probe_reads_by_status_and_by_resume_time(engine: Engine) -> None:
    """The tick asks in one read whether the sweeps or the resumes have work: each of its
    three questions takes its index, none walks a table."""
    params = {"stale_before": NOW, "stuck_before": NOW, "now": NOW}
    plan = _plan(engine, claiming._TICK_WORK, params)
    assert plan.count(ON_STATUS) == 2, plan
    assert "ix_enrollment_resume_at (resume_at>? AND resume_at<?)" in plan, plan
    assert "SCAN touch" not in plan and "SCAN enrollment" not in plan, plan

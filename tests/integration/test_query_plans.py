"""The hot statements' SQLite plans search by the key they are given.

SQLite keeps no statistics unless told to, so its planner may take an index on a column
compared with a constant (``status = 'sent'``) over the ids it was handed, and read every
sent touch of the store at each call: 20 ms a batch at 5,000 prospects. These plans are
read from SQLite itself, on the real schema; PostgreSQL's planner has statistics.
"""

from typing import Any

import pytest
from sqlalchemy import Engine, Update, select

from cadence import claiming, demo, enrollment, touch_claim
from cadence.store_views import _LOCK_ENROLLMENTS_OF_TOUCHES, _LOCK_TOUCHES, _PROSPECTS_BY_ID

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


@pytest.mark.parametrize(
    ("statement", "params", "expected"),
    [
        (touch_claim._SENT_EMAILS, IDS, "USING INDEX ix_touch_enrollment_id (enrollment_id=?)"),
        (demo._STOP_TOUCHES, IDS, "USING INTEGER PRIMARY KEY"),
        (_LOCK_TOUCHES, IDS, "USING INTEGER PRIMARY KEY"),
        (_PROSPECTS_BY_ID, IDS, "USING INTEGER PRIMARY KEY"),
        (_LOCK_ENROLLMENTS_OF_TOUCHES, IDS, "SEARCH touch USING INTEGER PRIMARY KEY"),
        (claiming._NEXT_RESUME, {}, "ix_enrollment_resume_at (resume_at>?)"),
        (enrollment._TASKS_OF_ENROLLMENT, {"of_enrollment": 7}, "ix_touch_enrollment_id"),
        (enrollment._CANCEL_TOUCHES, {"of_enrollment": 7}, "ix_touch_enrollment_id"),
    ],
    ids=[
        "bump-parents",
        "demo-stop",
        "claim-touches",
        "claim-prospects",
        "claim-lock",
        "resume",
        "reply-tasks",
        "reply-touches",
    ],
)
def test_a_hot_statement_searches_by_its_key(
    engine: Engine, statement: Any, params: dict[str, Any], expected: str
) -> None:
    plan = _plan(engine, statement, params)
    assert expected in plan, plan
    assert "ix_touch_status_due" not in plan, plan

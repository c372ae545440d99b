"""The SDR's call and LinkedIn tasks: listed by owner, closed with an outcome.

A task is issued when its step falls due and never holds the cadence back; closing it records
the outcome on the touch (``skipped`` marks the touch skipped) with an audit entry.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cadence.core.domain import TaskOutcome, TouchStatus
from cadence.core.errors import ConflictError, NotFoundError
from cadence.store.audit_log import audit_row, record_audits
from cadence.store.models import TASKS, TOUCHES, Enrollment, Prospect, Task, Touch
from cadence.store.sql_lists import in_list


@dataclass(frozen=True)
class TaskView:
    id: int
    owner: str
    channel: str
    prospect: str
    company: str
    title: str
    due_at: datetime
    status: str
    outcome: str | None
    cadence: str
    step: int
    instructions: str


def list_tasks(
    session: Session, *, owner: str | None, include_done: bool = False
) -> list[TaskView]:
    query = (
        select(Task, Prospect, Touch, Enrollment)
        .join(Prospect, col(Prospect.id) == col(Task.prospect_id))
        .join(Touch, col(Touch.id) == col(Task.touch_id))
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .order_by(col(Task.due_at), col(Task.id))
    )
    if owner:
        query = query.where(Task.owner == owner)
    if not include_done:
        query = query.where(Task.status == "open")
    return [
        TaskView(
            id=task.id or 0,
            owner=task.owner,
            channel=task.channel,
            prospect=prospect.email,
            company=prospect.company,
            title=task.title,
            due_at=task.due_at,
            status=task.status,
            outcome=task.outcome,
            cadence=enrollment.cadence,
            step=touch.step,
            instructions=task.instructions,
        )
        for task, prospect, touch, enrollment in session.exec(query)
    ]


def complete_task(
    session: Session, task_id: int, *, outcome: TaskOutcome, now: datetime, actor: str
) -> Task:
    complete_tasks(session, {task_id: outcome}, now=now, actor=actor)
    task = session.get(Task, task_id, populate_existing=True)
    assert task is not None
    return task


def complete_tasks(
    session: Session, outcomes: Mapping[int, TaskOutcome], *, now: datetime, actor: str
) -> None:
    """Close tasks with their outcomes, all or none: an unknown task or one already done
    raises and changes nothing. One statement each for the tasks, the skipped touches and
    the audit entries, however many an SDR closes at once."""
    if not outcomes:
        return
    connection = session.connection()
    found = {row.id: row for row in connection.execute(_LOCK_TASKS, {"ids": list(outcomes)})}
    for task_id in outcomes:
        row = found.get(task_id)
        if row is None:
            raise NotFoundError(f"no task {task_id}; `cadence tasks list` shows open tasks")
        if row.status == "done":
            raise ConflictError(f"task {task_id} is already done ({row.outcome})")
    connection.execute(
        _CLOSE_TASK,
        [
            {"task_id": task_id, "outcome": outcome.value, "now": now}
            for task_id, outcome in outcomes.items()
        ],
    )
    skipped = [found[i].touch_id for i, o in outcomes.items() if o is TaskOutcome.SKIPPED]
    if skipped:
        connection.execute(
            _SKIP_TOUCH,
            [{"touch_id": touch_id, "reason": f"task skipped by {actor}"} for touch_id in skipped],
        )
    record_audits(
        session,
        [
            audit_row(
                at=now,
                actor=actor,
                action="task:done",
                prospect_id=found[task_id].prospect_id,
                touch_id=found[task_id].touch_id,
                before=found[task_id].status,
                after=outcome.value,
            )
            for task_id, outcome in outcomes.items()
        ],
    )


_LOCK_TASKS = (
    sa_select(TASKS.c.id, TASKS.c.touch_id, TASKS.c.prospect_id, TASKS.c.status, TASKS.c.outcome)
    .where(in_list(TASKS.c.id, "ids"))
    .order_by(TASKS.c.id)
    .with_for_update()
)
_CLOSE_TASK = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("task_id"))
    .values(status="done", outcome=bindparam("outcome"), done_at=bindparam("now"))
)
_SKIP_TOUCH = (
    update(TOUCHES)
    .where(TOUCHES.c.id == bindparam("touch_id"))
    .values(status=TouchStatus.SKIPPED.value, reason=bindparam("reason"))
)

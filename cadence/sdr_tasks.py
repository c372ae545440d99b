"""The SDR's call and LinkedIn tasks: listed by owner, closed with an outcome.

A task is issued when its step falls due and never holds the cadence back; closing it records
the outcome on the touch (``skipped`` marks the touch skipped) with an audit entry.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from cadence.audit_log import record_audit
from cadence.domain import TaskOutcome, TouchStatus
from cadence.errors import ConflictError, NotFoundError
from cadence.models import Enrollment, Prospect, Task, Touch


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
    task = session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()
    if task is None:
        raise NotFoundError(f"no task {task_id}; `cadence tasks list` shows open tasks")
    if task.status == "done":
        raise ConflictError(f"task {task_id} is already done ({task.outcome})")
    task.status = "done"
    task.outcome = outcome.value
    task.done_at = now
    session.add(task)
    touch = session.get(Touch, task.touch_id)
    if touch is not None and outcome is TaskOutcome.SKIPPED:
        touch.status = TouchStatus.SKIPPED
        touch.reason = f"task skipped by {actor}"
        session.add(touch)
    record_audit(
        session,
        at=now,
        actor=actor,
        action="task:done",
        prospect_id=task.prospect_id,
        touch_id=task.touch_id,
        before="open",
        after=outcome.value,
    )
    return task

"""``/api/v1/tasks``: the SDRs' call and LinkedIn tasks; closing one records its outcome."""

from typing import Annotated

from fastapi import APIRouter, Query

from cadence.api.schemas import TaskDoneIn, TaskOut
from cadence.sequences.tasks import complete_task, list_tasks
from cadence.store.database import transaction
from cadence.store.models import Task
from cadence.web.errors import CadenceRoute
from cadence.web.params import Id, Name
from cadence.web.security import Actor, Ctx, Reader, hidden

router = APIRouter(route_class=CadenceRoute, tags=["tasks"])


@router.get("/tasks", response_model=list[TaskOut])
def tasks(
    ctx: Ctx,
    who: Reader,
    owner: Name = None,
    include_done: bool = False,
    overdue: Annotated[bool, Query(description="only open tasks past their due time")] = False,
) -> list[TaskOut]:
    """Soonest due first. An SDR sees only their own, whatever ``owner`` says."""
    now = ctx.clock.now()
    if who.owner_scope is not None:
        owner = who.owner_scope
    with transaction(ctx.engine) as session:
        views = list_tasks(session, owner=owner, include_done=include_done and not overdue)
    rows = [
        TaskOut.model_validate(
            {**view.__dict__, "overdue": view.status == "open" and view.due_at < now}
        )
        for view in views
    ]
    return [r for r in rows if r.overdue] if overdue else rows


@router.post("/tasks/{task_id}/complete", response_model=TaskOut)
def complete(ctx: Ctx, who: Actor, task_id: Id, body: TaskDoneIn) -> TaskOut:
    """Close an open task (409 if already done); it counts as the step's touch."""
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        task = session.get(Task, task_id)
        if task is None or not who.may_see_owner(task.owner):
            raise hidden("task", task_id)
        complete_task(session, task_id, outcome=body.outcome, now=now, actor=who.actor)
    with transaction(ctx.engine) as session:
        view = next(
            v for v in list_tasks(session, owner=task.owner, include_done=True) if v.id == task_id
        )
    return TaskOut.model_validate({**view.__dict__, "overdue": False})

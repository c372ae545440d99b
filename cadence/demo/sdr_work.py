"""The demo's SDRs working their call and LinkedIn tasks, a few hours late and not all of them,
through the same service as ``cadence tasks done``."""

import random
from datetime import datetime, timedelta

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select

from cadence.core.domain import TaskOutcome
from cadence.runtime.context import AppContext
from cadence.sequences.tasks import complete_tasks
from cadence.store.database import reading, transaction
from cadence.store.models import TASKS

#: How long after a task falls due the demo's SDRs get to it, and how many they leave.
TASK_LAG = timedelta(hours=3)
TASKS_LEFT_UNDONE = 0.15
#: Weighted by repetition: voicemail and no answer are the usual outcomes of a cold call.
_OUTCOMES = [
    TaskOutcome.CONNECTED,
    TaskOutcome.VOICEMAIL,
    TaskOutcome.VOICEMAIL,
    TaskOutcome.NO_ANSWER,
    TaskOutcome.NO_ANSWER,
    TaskOutcome.SKIPPED,
]

#: Open tasks that fell due in a window, for the demo's SDRs to work (built once).
_TASKS_TO_WORK = (
    sa_select(TASKS.c.id, TASKS.c.owner)
    .where(
        TASKS.c.status == "open",
        TASKS.c.due_at > bindparam("since"),
        TASKS.c.due_at <= bindparam("until"),
    )
    .order_by(TASKS.c.id)
)


class SdrTaskWork:
    """Each task is looked at once, when it is :data:`TASK_LAG` old: done with a seeded
    outcome, or left overdue."""

    def __init__(self, ctx: AppContext, *, start: datetime, rng: random.Random) -> None:
        self._ctx = ctx
        self._rng = rng
        self._seen_until = start - TASK_LAG

    def work_due(self, now: datetime) -> None:
        """Work the tasks that became :data:`TASK_LAG` old since the last call."""
        since, until = self._seen_until, now - TASK_LAG
        if until <= since:
            return
        self._seen_until = until
        # Read first, and take the store's write lock only when there is work (most stops
        # have none); nothing else writes between the demo's stops.
        with reading(self._ctx.engine) as connection:
            due = connection.execute(_TASKS_TO_WORK, {"since": since, "until": until}).all()
        by_owner: dict[str, dict[int, TaskOutcome]] = {}
        for task_id, owner in due:
            if self._rng.random() < TASKS_LEFT_UNDONE:
                continue  # this one stays overdue
            by_owner.setdefault(owner, {})[task_id] = self._rng.choice(_OUTCOMES)
        if not by_owner:
            return
        with transaction(self._ctx.engine) as session:
            for owner, outcomes in by_owner.items():
                complete_tasks(session, outcomes, now=now, actor=f"demo:{owner}")

"""What the managers' pages chart: a cadence's funnel by step, each SDR's activity, and the
tasks that are late. Aggregated in SQL; ``now`` is a parameter like everywhere else."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from cadence.core.domain import LIVE_ENROLLMENT_STATES, CadenceDefinition
from cadence.reports.cadence_report import report
from cadence.sequences.tasks import TaskView, list_tasks
from cadence.store.models import Enrollment, Event, Prospect, Task, Touch


@dataclass(frozen=True)
class FunnelStep:
    number: int
    template: str
    channel: str
    reached: int  # enrollments that got this far (a touch row exists)
    sent: int
    stopped: int  # cancelled, skipped or failed
    replies: int  # replies credited to this step (the last touch before the reply)


def funnel(session: Session, cadence: CadenceDefinition) -> list[FunnelStep]:
    counts: dict[tuple[int, str], int] = {}
    rows = session.exec(
        select(Touch.step, Touch.status, func.count())
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(Enrollment.cadence == cadence.name)
        .group_by(col(Touch.step), col(Touch.status))
    ).all()
    for number, status, count in rows:
        counts[(number, status)] = count
    replies: dict[int, int] = defaultdict(int)
    for row in report(session, since=None, until=None)["steps"]:
        if row["cadence"] == cadence.name:
            replies[row["step"]] += row["replies"]
    result = []
    for step in cadence.steps:
        mine = {status: n for (at, status), n in counts.items() if at == step.number}
        result.append(
            FunnelStep(
                number=step.number,
                template=" / ".join(step.templates),
                channel=step.channel.value,
                reached=sum(mine.values()),
                sent=mine.get("sent", 0),
                stopped=sum(mine.get(s, 0) for s in ("cancelled", "skipped", "failed")),
                replies=replies[step.number],
            )
        )
    return result


@dataclass
class SdrActivity:
    owner: str
    prospects: int = 0
    live_enrollments: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # by channel, in the range
    tasks_done: int = 0
    tasks_open: int = 0
    tasks_overdue: int = 0
    replies: int = 0

    @property
    def touches(self) -> int:
        return sum(self.sent.values())


def sdr_activity(
    session: Session,
    *,
    owners: list[str],
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> list[SdrActivity]:
    """One row per SDR (the team's, plus any other owner found): touches sent, tasks done
    and replies within [since, until); prospects, live enrollments and tasks as of now."""
    table: dict[str, SdrActivity] = {o: SdrActivity(o) for o in owners}

    def row(owner: str) -> SdrActivity:
        return table.setdefault(owner, SdrActivity(owner))

    def bounded(query: Any, column: Any) -> Any:
        if since is not None:
            query = query.where(column >= since)
        if until is not None:
            query = query.where(column < until)
        return query

    for owner, n in session.exec(
        select(Prospect.owner, func.count()).group_by(col(Prospect.owner))
    ).all():
        row(owner).prospects = n
    live = [s.value for s in LIVE_ENROLLMENT_STATES]
    for owner, n in session.exec(
        select(Enrollment.owner, func.count())
        .where(col(Enrollment.state).in_(live))
        .group_by(col(Enrollment.owner))
    ).all():
        row(owner).live_enrollments = n
    sent = bounded(
        select(Enrollment.owner, Touch.channel, func.count())
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(Touch.status == "sent")
        .group_by(col(Enrollment.owner), col(Touch.channel)),
        col(Touch.sent_at),
    )
    for owner, channel, n in session.exec(sent).all():
        row(owner).sent[channel] = n
    done = bounded(
        select(Task.owner, func.count()).where(Task.status == "done").group_by(col(Task.owner)),
        col(Task.done_at),
    )
    for owner, n in session.exec(done).all():
        row(owner).tasks_done = n
    late = func.sum(case((col(Task.due_at) < now, 1), else_=0))
    for owner, n, overdue in session.exec(
        select(Task.owner, func.count(), late)
        .where(Task.status == "open")
        .group_by(col(Task.owner))
    ).all():
        row(owner).tasks_open = n
        row(owner).tasks_overdue = int(overdue or 0)
    replies = bounded(
        select(Prospect.owner, func.count())
        .select_from(Event)
        .join(Prospect, col(Prospect.id) == col(Event.prospect_id))
        .where(Event.kind == "reply")
        .group_by(col(Prospect.owner)),
        col(Event.occurred_at),
    )
    for owner, n in session.exec(replies).all():
        row(owner).replies = n
    return sorted(table.values(), key=lambda a: a.owner)


def overdue_tasks(session: Session, *, now: datetime) -> list[TaskView]:
    """Open tasks past their due time, the longest late first."""
    return [t for t in list_tasks(session, owner=None) if t.due_at < now]

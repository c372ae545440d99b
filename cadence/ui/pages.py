"""The pages: overview, prospects and a prospect's timeline, a cadence's funnel, SDR
activity, overdue tasks and the report. Each reads in one transaction and renders."""

from collections import defaultdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, func, or_, select

from cadence.core.domain import STOPPING_EVENTS
from cadence.core.errors import InputError, NotFoundError
from cadence.reports.activity import funnel, overdue_tasks, sdr_activity
from cadence.reports.cadence_report import report
from cadence.reports.timeline import prospect_timeline
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Event, Prospect, Touch
from cadence.ui.access import Manager, PageRoute
from cadence.ui.rendering import render
from cadence.web.deps import context
from cadence.web.params import MAX_ID, as_utc

pages_router = APIRouter(route_class=PageRoute)
_Text = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]


def _team(request: Request) -> list[str]:
    return [s.name for s in context(request).catalog.team.sdr]


@pages_router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Manager) -> str:
    ctx = context(request)
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        totals = {
            "prospects": session.exec(select(func.count()).select_from(Prospect)).one(),
            "live enrollments": session.exec(
                select(func.count())
                .select_from(Enrollment)
                .where(col(Enrollment.state).in_(["active", "paused"]))
            ).one(),
            "touches sent": session.exec(
                select(func.count()).select_from(Touch).where(Touch.status == "sent")
            ).one(),
            "replies": session.exec(
                select(func.count()).select_from(Event).where(Event.kind == "reply")
            ).one(),
            "overdue tasks": len(overdue_tasks(session, now=now)),
        }
        funnels = {n: funnel(session, c) for n, c in sorted(ctx.catalog.cadences.items())}
    return render("overview.html", title="Overview", who=who, totals=totals, funnels=funnels)


@pages_router.get("/prospects", response_class=HTMLResponse)
def prospects(request: Request, who: Manager, q: _Text = None, outcome: _Text = None) -> str:
    """Up to 200 prospects matching ``q``; ``outcome`` (reply, unsubscribe, …) narrows to
    prospects with that event."""
    ctx = context(request)
    query = select(Prospect).order_by(col(Prospect.id)).limit(200)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(
            or_(
                col(Prospect.email).like(like),
                col(Prospect.company).ilike(like),
                col(Prospect.last_name).ilike(like),
            )
        )
    if outcome:
        query = query.where(
            col(Prospect.id).in_(select(Event.prospect_id).where(Event.kind == outcome))
        )
    with transaction(ctx.engine) as session:
        rows = list(session.exec(query))
        ids = [p.id for p in rows]
        states: dict[int, list[str]] = defaultdict(list)
        for e in session.exec(select(Enrollment).where(col(Enrollment.prospect_id).in_(ids))):
            states[e.prospect_id].append(f"{e.cadence}: {e.state}")
        outcomes: dict[int, str] = {}
        stopping = [k.value for k in STOPPING_EVENTS]
        for ev in session.exec(
            select(Event)
            .where(col(Event.prospect_id).in_(ids), col(Event.kind).in_(stopping))
            .order_by(col(Event.occurred_at))
        ):
            outcomes.setdefault(ev.prospect_id or 0, ev.kind)
    return render(
        "prospects.html",
        title="Prospects",
        who=who,
        rows=rows,
        states=states,
        outcomes=outcomes,
        q=q or "",
        outcome=outcome or "",
    )


@pages_router.get("/prospects/{prospect_id}", response_class=HTMLResponse)
def timeline(request: Request, who: Manager, prospect_id: int) -> str:
    ctx = context(request)
    with transaction(ctx.engine) as session:
        prospect = session.get(Prospect, prospect_id) if 0 < prospect_id <= MAX_ID else None
        if prospect is None:
            raise NotFoundError(f"no prospect {prospect_id}")
        story = prospect_timeline(session, prospect)
    return render("timeline.html", title=prospect.email, who=who, story=story, p=prospect)


@pages_router.get("/cadences/{name}", response_class=HTMLResponse)
def cadence_funnel(request: Request, who: Manager, name: str) -> str:
    ctx = context(request)
    cadence = ctx.catalog.cadence(name)
    with transaction(ctx.engine) as session:
        steps = funnel(session, cadence)
    return render("funnel.html", title=f"Funnel: {name}", who=who, cadence=cadence, steps=steps)


@pages_router.get("/activity", response_class=HTMLResponse)
def activity(request: Request, who: Manager, since: _Text = None, until: _Text = None) -> str:
    ctx = context(request)
    start, end = parse_range(since, until)
    with transaction(ctx.engine) as session:
        rows = sdr_activity(
            session, owners=_team(request), since=start, until=end, now=ctx.clock.now()
        )
    return render(
        "activity.html",
        title="SDR activity",
        who=who,
        rows=rows,
        since=since or "",
        until=until or "",
        top=max([r.touches for r in rows] + [1]),
    )


@pages_router.get("/tasks", response_class=HTMLResponse)
def tasks(request: Request, who: Manager) -> str:
    ctx = context(request)
    now = ctx.clock.now()
    with transaction(ctx.engine) as session:
        late = overdue_tasks(session, now=now)
        emails = [t.prospect for t in late]
        ids = dict(
            session.exec(
                select(Prospect.email, Prospect.id).where(col(Prospect.email).in_(emails))
            ).all()
        )
    return render("tasks.html", title="Overdue tasks", who=who, tasks=late, now=now, ids=ids)


@pages_router.get("/report", response_class=HTMLResponse)
def report_page(request: Request, who: Manager, since: _Text = None, until: _Text = None) -> str:
    ctx = context(request)
    start, end = parse_range(since, until)
    with transaction(ctx.engine) as session:
        data = report(session, since=start, until=end)
    return render(
        "report.html",
        title="Report",
        who=who,
        r=data,
        since=since or "",
        until=until or "",
    )


def parse_range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """The pages' date pickers send ``YYYY-MM-DD`` (UTC days); empty means open-ended."""
    bounds: list[datetime | None] = []
    for label, text in (("since", since), ("until", until)):
        if not text:
            bounds.append(None)
            continue
        try:
            bounds.append(as_utc(datetime.fromisoformat(text)))
        except ValueError as exc:
            raise InputError(f"{label}: {text!r} is not a date like 2026-03-02") from exc
    return bounds[0], bounds[1]

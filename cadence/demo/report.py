"""What the demo prints: a summary and two timelines, read back from the store.

The invariant checks (no touch after a reply, every email inside its window, every bump
threaded) are counted from stored rows, not from the demo's own bookkeeping.
"""

import os
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import STOPPING_EVENTS, Thread, TouchStatus
from cadence.core.geography import time_zone
from cadence.core.scheduling import is_open
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import ENROLLMENTS, PROSPECTS, TASKS, TOUCHES, Event

_FACT_COLUMNS = ("id", "enrollment_id", "prospect_id", "step", "channel", "template", "status",
                 "started_at", "message_id", "in_reply_to")  # fmt: skip
_TOUCH_FACTS = sa_select(*(TOUCHES.c[name] for name in _FACT_COLUMNS)).order_by(TOUCHES.c.id)
_PROSPECT_FACTS = sa_select(
    PROSPECTS.c.id, PROSPECTS.c.email, PROSPECTS.c.timezone, PROSPECTS.c.country
)
_ENROLLMENT_FACTS = sa_select(
    ENROLLMENTS.c.id, ENROLLMENTS.c.prospect_id, ENROLLMENTS.c.cadence, ENROLLMENTS.c.state
)


def summarize(ctx: AppContext, *, planned_replies: int) -> dict[str, Any]:
    with transaction(ctx.engine) as session:
        connection = session.connection()
        # Rows as the columns read here, not as models: a large demo has many times more
        # touches than prospects, and a model of each (its body included) is slow to build.
        prospects: dict[int, Any] = {p.id: p for p in connection.execute(_PROSPECT_FACTS)}
        enrollments: dict[int, Any] = {e.id: e for e in connection.execute(_ENROLLMENT_FACTS)}
        touches: list[Any] = list(connection.execute(_TOUCH_FACTS))
        events = list(session.exec(select(Event).order_by(col(Event.recorded_at))))
        all_tasks = connection.execute(sa_select(TASKS.c.status, TASKS.c.outcome)).all()
        tasks = len(all_tasks)
        tasks_done = Counter(outcome for status, outcome in all_tasks if status == "done")
        timeline = _timelines(prospects, enrollments, touches, events)
    sent = [t for t in touches if t.status == TouchStatus.SENT]
    first_stop: dict[int, Any] = {}
    for ev in events:
        if ev.kind in STOPPING_EVENTS and ev.prospect_id is not None:
            first_stop.setdefault(ev.prospect_id, ev.recorded_at)
    after_stop = [
        t
        for t in touches
        if t.started_at is not None
        and t.prospect_id in first_stop
        and t.started_at > first_stop[t.prospect_id]
    ]
    outside = 0
    unthreaded = 0
    by_message = {t.message_id: t for t in sent if t.message_id}
    for touch in sent:
        enrollment = enrollments[touch.enrollment_id]
        cadence = ctx.catalog.cadence(enrollment.cadence)
        step = cadence.step(touch.step)
        if touch.channel == "email":
            prospect = prospects[touch.prospect_id]
            calendar = BusinessCalendar(prospect.country) if cadence.business_days else None
            assert touch.started_at is not None
            if not is_open(
                touch.started_at, cadence.window_for(step), time_zone(prospect.timezone), calendar
            ):
                outside += 1
            if step.thread is Thread.REPLY:
                parent = by_message.get(touch.in_reply_to or "")
                if parent is None or parent.enrollment_id != touch.enrollment_id:
                    unthreaded += 1
    seven = [e for e in enrollments.values() if e.cadence == "seven-touch"]
    reached_seven = {t.enrollment_id for t in sent if t.step == 7} & {e.id for e in seven}
    outbox = ctx.settings.outbox_dir
    return {
        "enrolled": dict(Counter(e.cadence for e in enrollments.values())),
        "enrollments_by_state": dict(
            Counter(f"{e.cadence}:{e.state}" for e in enrollments.values())
        ),
        "touches_sent_by_step": {
            str(step): n
            for step, n in sorted(
                Counter(
                    t.step for t in sent if enrollments[t.enrollment_id].cadence == "seven-touch"
                ).items()
            )
        },
        "touches_sent_by_channel": dict(Counter(t.channel for t in sent)),
        "touches_by_status": dict(Counter(t.status for t in touches)),
        "emails_sent": sum(1 for t in sent if t.channel == "email"),
        "outbox_files": _count_emails(outbox),
        "tasks_created": tasks,
        "tasks_done": dict(tasks_done),
        "events": dict(Counter(e.kind for e in events)),
        "planned_replies": planned_replies,
        "reached_touch_7": len(reached_seven),
        "touches_after_reply": len(after_stop),
        "emails_outside_window": outside,
        "bumps_not_threaded": unthreaded,
        "timeline": timeline,
    }


def _count_emails(outbox: Path) -> int:
    """The ``.eml`` files in the outbox (scandir: a glob builds a Path object a file, and
    a large demo writes tens of thousands)."""
    if not outbox.is_dir():
        return 0
    with os.scandir(outbox) as entries:
        return sum(1 for entry in entries if entry.name.endswith(".eml"))


def _timelines(
    prospects: dict[int, Any],
    enrollments: dict[int, Any],
    touches: list[Any],
    events: list[Event],
) -> list[dict[str, Any]]:
    """One prospect who replied and one who went through to nurture, touch by touch."""
    replied = next((e.prospect_id for e in events if e.kind == "reply"), None)
    finished = next((e.prospect_id for e in enrollments.values() if e.cadence == "nurture"), None)
    rows: list[dict[str, Any]] = []
    for prospect_id in (replied, finished):
        if prospect_id is None:
            continue
        prospect = prospects[prospect_id]
        zone = time_zone(prospect.timezone)
        items = [
            (
                t.started_at,
                f"{enrollments[t.enrollment_id].cadence} step {t.step} "
                f"{t.channel} {t.template} ({t.status})",
            )
            for t in touches
            if t.prospect_id == prospect_id and t.started_at is not None
        ] + [
            (e.recorded_at, f"{e.kind.upper()} received")
            for e in events
            if e.prospect_id == prospect_id
        ]
        for at, what in sorted(items, key=lambda item: item[0]):
            rows.append(
                {
                    "prospect": prospect.email,
                    "local_time": at.astimezone(zone).strftime("%a %d %b %H:%M %Z"),
                    "utc": at.isoformat(),
                    "what": what,
                }
            )
    return rows


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    timeline = Table(title="Timeline of two prospects (their local time)")
    for column in ("prospect", "local_time", "what"):
        timeline.add_column(column)
    for row in summary["timeline"]:
        style = "bold green" if "RECEIVED" in row["what"] else None
        timeline.add_row(row["prospect"], row["local_time"], row["what"], style=style)
    console.print(timeline)
    steps = Table(title="seven-touch: touches sent by step")
    steps.add_column("step")
    steps.add_column("sent", justify="right")
    for step, count in summary["touches_sent_by_step"].items():
        steps.add_row(step, str(count))
    console.print(steps)
    table = Table(title="Summary", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("prospects", summary["prospects"]),
        ("SDRs (one mailbox each)", summary["sdrs"]),
        ("enrolled", ", ".join(f"{k} {v}" for k, v in summary["enrolled"].items())),
        ("emails sent (outbox files)", f"{summary['emails_sent']} ({summary['outbox_files']})"),
        (
            "touches by channel",
            ", ".join(f"{k} {v}" for k, v in summary["touches_sent_by_channel"].items()),
        ),
        ("tasks created for SDRs", summary["tasks_created"]),
        (
            "tasks done by outcome",
            ", ".join(f"{k} {v}" for k, v in sorted(summary["tasks_done"].items())),
        ),
        ("events", ", ".join(f"{k} {v}" for k, v in summary["events"].items())),
        (
            "enrollments",
            ", ".join(f"{k} {v}" for k, v in sorted(summary["enrollments_by_state"].items())),
        ),
        ("reached touch 7", summary["reached_touch_7"]),
        ("touches started after a reply", summary["touches_after_reply"]),
        ("emails outside the send window", summary["emails_outside_window"]),
        ("bumps not threaded", summary["bumps_not_threaded"]),
        ("wall time", f"{summary['elapsed_seconds']} s"),
    ]
    for what, count in rows:
        table.add_row(what, str(count))
    console.print(table)
    console.print(f"workspace: {summary['workspace']} (cadence.db, outbox/*.eml)")

"""Read the rows :mod:`cadence.core.report_figures` aggregates, for enrollments in a date range."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from cadence.core.report_figures import EnrollmentRow, EventRow, TouchRow, build_report
from cadence.store.models import Enrollment, Event, Touch


def report(session: Session, *, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    query = select(Enrollment)
    if since:
        query = query.where(col(Enrollment.enrolled_at) >= since)
    if until:
        query = query.where(col(Enrollment.enrolled_at) < until)
    enrollments = [
        EnrollmentRow(e.id or 0, e.prospect_id, e.cadence, e.owner, e.enrolled_at)
        for e in session.exec(query)
    ]
    ids = {e.id for e in enrollments}
    prospects = {e.prospect_id for e in enrollments}
    touches = [
        TouchRow(
            t.enrollment_id, t.step, t.channel, t.template, t.template_version, t.status, t.sent_at
        )
        for t in session.exec(select(Touch).where(Touch.status == "sent"))
        if t.enrollment_id in ids
    ]
    events = [
        EventRow(e.prospect_id, e.kind, e.occurred_at)
        for e in session.exec(select(Event).where(col(Event.prospect_id).is_not(None)))
        if e.prospect_id in prospects
    ]
    result = build_report(enrollments, touches, events)
    result["since"] = since.isoformat() if since else None
    result["until"] = until.isoformat() if until else None
    return result

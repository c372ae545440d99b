"""``cadence templates history NAME``: every version of a template with what it produced.

Changing a template never rewrites history: touches keep the version they were rendered
with, and replies are credited to it as in the report.
"""

from typing import Any

from sqlmodel import Session, col, select

from cadence.reports.cadence_report import report
from cadence.store.models import TemplateVersion


def template_history(session: Session, name: str, *, current: str | None) -> list[dict[str, Any]]:
    versions = session.exec(
        select(TemplateVersion)
        .where(TemplateVersion.name == name)
        .order_by(col(TemplateVersion.first_seen_at), col(TemplateVersion.id))
    ).all()
    produced = {
        row["version"]: row
        for row in report(session, since=None, until=None)["templates"]
        if row["template"] == name
    }
    return [
        {
            "version": v.version,
            "first_seen_at": v.first_seen_at.isoformat(),
            "current": v.version == current,
            "touches": produced.get(v.version, {}).get("sent", 0),
            "replies": produced.get(v.version, {}).get("replies", 0),
            "reply_rate": produced.get(v.version, {}).get("reply_rate", 0.0),
        }
        for v in versions
    ]

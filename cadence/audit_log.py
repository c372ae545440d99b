"""Append-only audit entries: every state change says who, when, before, after and why."""

from datetime import datetime

from sqlmodel import Session

from cadence.models import AuditEntry

SYSTEM = "system"


def record_audit(
    session: Session,
    *,
    at: datetime,
    action: str,
    actor: str = SYSTEM,
    prospect_id: int | None = None,
    enrollment_id: int | None = None,
    touch_id: int | None = None,
    before: str | None = None,
    after: str | None = None,
    reason: str | None = None,
) -> None:
    """Add an entry to the caller's transaction, so it commits with the change it describes."""
    session.add(
        AuditEntry(
            at=at,
            actor=actor,
            action=action,
            prospect_id=prospect_id,
            enrollment_id=enrollment_id,
            touch_id=touch_id,
            before=before,
            after=after,
            reason=reason,
        )
    )

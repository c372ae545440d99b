"""Addresses and domains never to contact, whatever the cadence or the owner says."""

from datetime import datetime

from sqlmodel import Session, col, select

from cadence.audit_log import record_audit
from cadence.models import Suppression


def suppression_reason(session: Session, email: str) -> str | None:
    """Why ``email`` may not be contacted (address or whole domain), or None."""
    address = email.lower()
    domain = address.rpartition("@")[2]
    row = session.exec(
        select(Suppression).where(col(Suppression.value).in_([address, domain]))
    ).first()
    return f"{row.value} suppressed: {row.reason}" if row else None


def suppress(
    session: Session, value: str, *, reason: str, now: datetime, actor: str, prospect_id: int | None
) -> bool:
    """Suppress an address (or a domain when ``value`` has no "@"); True if it was new."""
    value = value.lower().strip()
    if session.exec(select(Suppression).where(Suppression.value == value)).first():
        return False
    kind = "address" if "@" in value else "domain"
    session.add(Suppression(value=value, kind=kind, reason=reason, created_at=now))
    record_audit(
        session,
        at=now,
        actor=actor,
        action="suppressed",
        prospect_id=prospect_id,
        after=value,
        reason=reason,
    )
    return True

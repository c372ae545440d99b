"""Append-only audit entries: every state change says who, when, before, after and why."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import insert
from sqlmodel import Session

from cadence.store.models import AUDIT_ENTRIES

SYSTEM = "system"


class AuditFields(TypedDict, total=False):
    at: Required[datetime]
    action: Required[str]
    actor: str
    prospect_id: int | None
    enrollment_id: int | None
    touch_id: int | None
    before: str | None
    after: str | None
    reason: str | None


_UNSET: dict[str, Any] = {
    "actor": SYSTEM,
    "prospect_id": None,
    "enrollment_id": None,
    "touch_id": None,
    "before": None,
    "after": None,
    "reason": None,
}


def record_audit(session: Session, **fields: Unpack[AuditFields]) -> None:
    """Add an entry to the caller's transaction, so it commits with the change it describes.

    Written at once as a row, not added as a model: nothing reads an entry back before
    commit, and a model cost an object and an ``INSERT … RETURNING`` at the next flush
    (two a reply). Entries get their ids in the order they are recorded."""
    record_audits(session, [audit_row(**fields)])


def audit_row(**fields: Unpack[AuditFields]) -> dict[str, Any]:
    """One entry for :func:`record_audits`, every column given (one statement shape)."""
    return {**_UNSET, **fields}


_INSERT_AUDIT = insert(AUDIT_ENTRIES)


def record_audits(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write many entries in the caller's transaction with one executemany: a worker's
    batch writes one per touch, and ORM objects would each be an INSERT … RETURNING."""
    if rows:
        session.connection().execute(_INSERT_AUDIT, list(rows))

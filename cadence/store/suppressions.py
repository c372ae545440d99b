"""Addresses and domains never to contact, whatever the cadence or the owner says."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy import select as sa_select
from sqlmodel import Session

from cadence.store.audit_log import record_audit
from cadence.store.models import SUPPRESSIONS
from cadence.store.sql_lists import in_list

#: Built once: a worker runs it for every batch it claims.
_SUPPRESSED_VALUES = sa_select(SUPPRESSIONS.c.value, SUPPRESSIONS.c.reason).where(
    in_list(SUPPRESSIONS.c.value, "values")
)


_INSERT_SUPPRESSION = insert(SUPPRESSIONS)


def suppression_reasons(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """Why each address may not be contacted (the address or its whole domain suppressed),
    in one query; only the suppressed ones."""
    keys = {email: _address_and_domain(email) for email in emails}
    values = {value for pair in keys.values() for value in pair}
    if not values:
        return {}
    rows = {
        row.value: row
        for row in session.connection().execute(_SUPPRESSED_VALUES, {"values": list(values)})
    }
    found = {}
    for email, (address, domain) in keys.items():
        row = rows.get(address) or rows.get(domain)
        if row is not None:
            found[email] = f"{row.value} suppressed: {row.reason}"
    return found


def _address_and_domain(email: str) -> tuple[str, str]:
    address = email.lower()
    return address, address.rpartition("@")[2]


def suppress(
    session: Session, value: str, *, reason: str, now: datetime, actor: str, prospect_id: int | None
) -> bool:
    """Suppress an address (or a domain when ``value`` has no "@"); True if it was new."""
    value = value.lower().strip()
    connection = session.connection()
    if connection.execute(_SUPPRESSED_VALUES, {"values": [value]}).first() is not None:
        return False
    kind = "address" if "@" in value else "domain"
    connection.execute(
        _INSERT_SUPPRESSION, {"value": value, "kind": kind, "reason": reason, "created_at": now}
    )
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

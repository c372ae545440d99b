"""An SDR mailbox's health in the store: set by the reader and the sender when a connection
fails (or works again), and by the deliverability guard; read before every send.

The caller owns the transaction. A mailbox with no row is healthy."""

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from cadence.store.audit_log import record_audit
from cadence.store.models import MailboxState


class MailboxHealth(StrEnum):
    OK = "ok"
    #: The server refused the login: a wrong password, or a revoked token.
    AUTHENTICATION = "authentication"
    #: The server could not be reached, or dropped the connection.
    UNREACHABLE = "unreachable"
    #: Paused by the deliverability guard or a person; only a person resumes it.
    PAUSED = "paused"


def set_health(
    session: Session,
    owner: str,
    health: MailboxHealth,
    *,
    reason: str | None,
    now: datetime,
    actor: str = "system",
) -> bool:
    """Record the mailbox's health; an audit entry when it changes. Returns whether it did.

    A paused mailbox stays paused whatever a connection finds: only :func:`resume` (a
    person) clears a pause. A failure written over it would be cleared by the next
    connection that works, and the pause with it."""
    state = session.get(MailboxState, owner)
    before = MailboxHealth(state.health) if state is not None else MailboxHealth.OK
    if before is health or before is MailboxHealth.PAUSED:
        return False
    if state is None:
        state = MailboxState(owner=owner, changed_at=now)
    state.health, state.reason, state.changed_at = health.value, reason, now
    session.add(state)
    record_audit(
        session,
        at=now,
        actor=actor,
        action="mailbox:health",
        before=f"{owner}:{before.value}",
        after=f"{owner}:{health.value}",
        reason=(reason or "")[:500] or None,
    )
    return True


def resume(session: Session, owner: str, *, now: datetime, actor: str) -> bool:
    """A person's word that the mailbox may send again, whatever stopped it."""
    state = session.get(MailboxState, owner)
    if state is None or state.health == MailboxHealth.OK:
        return False
    before = state.health
    state.health, state.reason, state.changed_at = MailboxHealth.OK.value, None, now
    session.add(state)
    record_audit(
        session,
        at=now,
        actor=actor,
        action="mailbox:health",
        before=f"{owner}:{before}",
        after=f"{owner}:ok",
        reason="resumed by hand",
    )
    return True


def unhealthy(session: Session, owners: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """Of ``owners``, those whose mailbox may not send now: health and reason by owner."""
    wanted = sorted(set(owners))
    if not wanted:
        return {}
    rows = session.exec(
        select(MailboxState.owner, MailboxState.health, MailboxState.reason).where(
            col(MailboxState.owner).in_(wanted), MailboxState.health != MailboxHealth.OK.value
        )
    ).all()
    return {owner: (health, reason) for owner, health, reason in rows}


def mailbox_states(session: Session) -> dict[str, MailboxState]:
    """Every recorded mailbox state by owner (those never recorded are healthy)."""
    return {state.owner: state for state in session.exec(select(MailboxState)).all()}

"""What sending reads and writes of an SDR mailbox's health: the conditions a claim applies
to its batch, read once for all its mailboxes, and what a send's login found.

The caller owns the transaction."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from cadence.core.mailbox_rules import MailboxCondition
from cadence.store.mailbox_health import MailboxHealth, set_health
from cadence.store.models import MAILBOX_STATES as _STATES
from cadence.store.sql_lists import in_list

_NOT_OK = select(_STATES.c.owner, _STATES.c.health, _STATES.c.reason, _STATES.c.changed_at).where(
    in_list(_STATES.c.owner, "owners"), _STATES.c.health != MailboxHealth.OK.value
)


def mailbox_conditions(session: Session, owners: Iterable[str]) -> dict[str, MailboxCondition]:
    """Of ``owners``, those whose mailbox is not ``ok``, with why and since when."""
    wanted = sorted(set(owners))
    if not wanted:
        return {}
    rows = session.connection().execute(_NOT_OK, {"owners": wanted})
    return {owner: MailboxCondition(health, reason, at) for owner, health, reason, at in rows}


#: A failure found again: the time it was last found, so the next try waits its turn.
_FOUND_AGAIN = (
    update(_STATES)
    .where(_STATES.c.owner == bindparam("row_owner"), _STATES.c.health == bindparam("row_health"))
    .values(reason=bindparam("new_reason"), changed_at=bindparam("new_changed_at"))
)


def note_login_failure(
    session: Session, owner: str, health: MailboxHealth, *, reason: str, now: datetime
) -> None:
    """The mailbox refused the login or could not be reached: marked so (audited when it
    changes). Found so again, its time is moved on, so the next try waits a full
    ``CADENCE_MAILBOX_RETRY_MINUTES``. A paused mailbox stays paused."""
    if set_health(session, owner, health, reason=reason[:500], now=now):
        return
    session.flush()
    session.connection().execute(
        _FOUND_AGAIN,
        {
            "row_owner": owner,
            "row_health": health.value,
            "new_reason": reason[:500],
            "new_changed_at": now,
        },
    )


def note_login_success(session: Session, owners: Iterable[str], *, now: datetime) -> None:
    """A send went through these mailboxes again: ``ok`` unless a pause holds them."""
    for owner in sorted(set(owners)):
        set_health(session, owner, MailboxHealth.OK, reason=None, now=now)

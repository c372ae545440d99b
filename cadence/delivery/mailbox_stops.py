"""A send's login on an SDR's own mailbox refused, or its server unreachable: that mailbox
is marked so (:mod:`cadence.store.mailbox_health`) and its emails of the batch move later,
untried, the attempt they were claimed with given back (the server took nothing, and a
mailbox down for a day must not use up a touch's tries). Other mailboxes' emails go on. A
send that goes through a mailbox being tried again marks it ``ok``."""

from collections.abc import Iterable, Mapping
from datetime import timedelta

from sqlalchemy import bindparam, update
from sqlmodel import Session

from cadence.core.domain import TouchStatus
from cadence.core.errors import MailboxUnavailable
from cadence.runtime.context import AppContext
from cadence.store.mailbox_health import MailboxHealth
from cadence.store.mailbox_sending import note_login_failure, note_login_success
from cadence.store.models import TOUCHES

#: Claimed and not sent: back to ``scheduled`` for when the mailbox is tried again.
_WAIT = (
    update(TOUCHES)
    .where(
        TOUCHES.c.id == bindparam("touch_id"),
        TOUCHES.c.status == TouchStatus.SENDING.value,
    )
    .values(
        status=TouchStatus.SCHEDULED.value,
        due_at=bindparam("due_at"),
        reason=bindparam("why"),
        attempts=TOUCHES.c.attempts - 1,
    )
)


def hold_back(
    ctx: AppContext,
    session: Session,
    *,
    refused: Mapping[str, MailboxUnavailable],
    waiting: Mapping[int, str],
) -> None:
    """Mark each refused mailbox, and move ``waiting`` (touch id → its mailbox) later by
    ``CADENCE_MAILBOX_RETRY_MINUTES``, each with its mailbox's reason."""
    now = ctx.clock.now()
    for owner in sorted(refused):
        failure = refused[owner]
        note_login_failure(
            session, owner, MailboxHealth(failure.health), reason=str(failure), now=now
        )
    if not waiting:
        return
    session.flush()
    due_at = now + timedelta(minutes=ctx.settings.mailbox_retry_minutes)
    session.connection().execute(
        _WAIT,
        [
            {"touch_id": touch_id, "due_at": due_at, "why": f"waiting: {refused[owner]}"}
            for touch_id, owner in sorted(waiting.items())
        ],
    )


def mark_working(ctx: AppContext, session: Session, owners: Iterable[str]) -> None:
    """Mailboxes tried again that sent: ``ok`` (a paused one stays paused)."""
    note_login_success(session, owners, now=ctx.clock.now())

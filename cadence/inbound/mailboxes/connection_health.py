"""A mailbox's health as its connections find it: a refused login or an unreachable server
stops the mailbox's sends (``set_health``), and a connection that works again clears what
the same side found, never a pause by the deliverability guard or a person.

Each side clears only the failures it recorded (the reason starts with ``IMAP`` or
``SMTP``): a working IMAP login says nothing of a refused SMTP one.
"""

from sqlalchemy import Engine

from cadence.core.clock import Clock
from cadence.core.errors import MailboxError, MailboxLoginRefused
from cadence.store.database import transaction
from cadence.store.mailbox_health import MailboxHealth, set_health
from cadence.store.models import MailboxState


def record_connection(
    engine: Engine,
    clock: Clock,
    owner: str,
    *,
    side: str,
    failure: MailboxError | None,
    actor: str = "system",
) -> bool:
    """Record what connecting to the mailbox's ``side`` ("IMAP" or "SMTP") came to; the
    failure's message (which names no secret) is the reason. Returns whether it changed."""
    now = clock.now()
    with transaction(engine) as session:
        if failure is None:
            state = session.get(MailboxState, owner)
            if state is None or not (state.reason or "").startswith(side):
                return False
            return set_health(session, owner, MailboxHealth.OK, reason=None, now=now, actor=actor)
        state = session.get(MailboxState, owner)
        if state is not None and state.health == MailboxHealth.PAUSED:
            return False  # a pause outranks a connection failure, and only a person ends it
        health = (
            MailboxHealth.AUTHENTICATION
            if isinstance(failure, MailboxLoginRefused)
            else MailboxHealth.UNREACHABLE
        )
        reason = str(failure)
        if not reason.startswith(side):
            reason = f"{side}: {reason}"
        return set_health(session, owner, health, reason=reason[:500], now=now, actor=actor)


def clear_connection_failures(engine: Engine, clock: Clock, owner: str, *, actor: str) -> bool:
    """Both sides connected (``cadence mailboxes check``): clear a login or reachability
    failure whoever recorded it. A pause stays."""
    with transaction(engine) as session:
        return set_health(
            session, owner, MailboxHealth.OK, reason=None, now=clock.now(), actor=actor
        )

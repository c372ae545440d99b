"""Which ``mailboxes`` process reads a mailbox: a lease row per mailbox, taken and renewed by
compare-and-set on its expiry, so two processes never read the same mailbox at once and a
stopped process's mailboxes pass to another once its lease runs out.

The lease keeps readers apart; it is not what keeps events single: a process that lost its
lease mid-message and the one that took over would store the same message once, because
inbound events are de-duplicated by Message-ID. The caller owns the transaction.
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from cadence.store.models import MailboxLease


def take_lease(session: Session, owner: str, holder: str, *, now: datetime, seconds: float) -> bool:
    """Take the mailbox's lease for ``holder`` until ``now + seconds``, or renew it; True
    when ``holder`` holds it afterwards. A lease held by another and not yet expired is
    left alone."""
    until = now + timedelta(seconds=seconds)
    renewed = session.connection().execute(
        update(MailboxLease)
        .where(
            col(MailboxLease.owner) == owner,
            or_(col(MailboxLease.holder) == holder, col(MailboxLease.expires_at) <= now),
        )
        .values(holder=holder, expires_at=until)
        .returning(col(MailboxLease.owner))
    )
    if renewed.first() is not None:
        return True
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    created = session.connection().execute(
        insert(MailboxLease)
        .values(owner=owner, holder=holder, expires_at=until)
        .on_conflict_do_nothing()
        .returning(col(MailboxLease.owner))
    )
    # rowcount is -1 for this statement on psycopg: RETURNING says whether a row went in.
    return created.first() is not None


def release_lease(session: Session, owner: str, holder: str) -> bool:
    """Give the lease up at once (a clean stop), so another process need not wait for it to
    expire; a lease another process holds by now is left alone."""
    released = session.connection().execute(
        delete(MailboxLease)
        .where(col(MailboxLease.owner) == owner, col(MailboxLease.holder) == holder)
        .returning(col(MailboxLease.owner))
    )
    return released.first() is not None


def lease_holder(session: Session, owner: str, *, now: datetime) -> str | None:
    """Who holds the mailbox's lease now, or None when nobody does."""
    lease = session.get(MailboxLease, owner)
    if lease is None or lease.expires_at <= now:
        return None
    return lease.holder

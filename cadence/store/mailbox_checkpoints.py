"""Where reading each mailbox folder got to (UIDVALIDITY and the last UID read) and when a
mailbox was last read through: a restart reads nothing twice, and ``cadence mailboxes list``
shows the last sync. The caller owns the transaction."""

from datetime import datetime

from sqlmodel import Session, select

from cadence.store.models import MailboxFolder, MailboxState


def checkpoint(session: Session, owner: str, folder: str) -> MailboxFolder | None:
    return session.get(MailboxFolder, (owner, folder))


def advance(
    session: Session, owner: str, folder: str, *, uidvalidity: int, last_uid: int, now: datetime
) -> None:
    """Record that every message of ``folder`` up to ``last_uid`` under ``uidvalidity`` was
    read. A new UIDVALIDITY replaces the old checkpoint; under the same one the last UID
    never moves back."""
    row = session.get(MailboxFolder, (owner, folder))
    if row is None:
        row = MailboxFolder(owner=owner, folder=folder, uidvalidity=uidvalidity, synced_at=now)
    elif row.uidvalidity == uidvalidity:
        last_uid = max(last_uid, row.last_uid)
    row.uidvalidity, row.last_uid, row.synced_at = uidvalidity, last_uid, now
    session.add(row)


def record_sync(session: Session, owner: str, *, now: datetime) -> None:
    """The mailbox was read through at ``now`` (every folder, one pass)."""
    state = session.get(MailboxState, owner)
    if state is None:
        state = MailboxState(owner=owner, changed_at=now)
    state.last_sync_at = now
    session.add(state)


def last_syncs(session: Session) -> dict[str, datetime | None]:
    """When each recorded mailbox was last read through, by owner."""
    rows = session.exec(select(MailboxState.owner, MailboxState.last_sync_at)).all()
    return dict(rows)

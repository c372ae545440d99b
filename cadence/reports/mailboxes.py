"""Each SDR mailbox as an operator sees it (``cadence mailboxes list``, ``cadence status``):
whether it may send and be read, why not, when it was last read through, and its sends of
the UTC day."""

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from cadence.authoring.config_files import Team
from cadence.inbound.mailboxes.sdr_mailboxes import sdr_mailboxes
from cadence.store.mailbox_health import MailboxHealth, mailbox_states
from cadence.store.models import MailboxDay


def mailbox_overview(session: Session, team: Team, *, now: datetime) -> list[dict[str, Any]]:
    """One row per SDR with a ``[sdr.mailbox]``, in team order; times in UTC ISO 8601."""
    mailboxes = sdr_mailboxes(team)
    states = mailbox_states(session)
    sends = dict(
        session.exec(
            select(MailboxDay.owner, MailboxDay.started).where(
                MailboxDay.day == now.date(),
                col(MailboxDay.owner).in_([m.owner for m in mailboxes]),
            )
        ).all()
    )
    rows = []
    for sdr in mailboxes:
        state = states.get(sdr.owner)
        rows.append(
            {
                "name": sdr.owner,
                "address": sdr.address,
                "health": state.health if state else MailboxHealth.OK.value,
                "reason": state.reason if state else None,
                "health_since": _iso(state.changed_at) if state else None,
                "last_sync": _iso(state.last_sync_at) if state else None,
                "sends_today": sends.get(sdr.owner, 0),
                "reads": sdr.mailbox.imap is not None,
                "sends": sdr.mailbox.smtp is not None,
                "folders": list(sdr.mailbox.folders),
            }
        )
    return rows


def unhealthy_mailboxes(session: Session) -> dict[str, str]:
    """Mailboxes that may not send now, with why: for ``cadence status``, which has no team
    at hand (a mailbox never recorded is healthy)."""
    return {
        owner: f"{state.health}: {state.reason}" if state.reason else state.health
        for owner, state in sorted(mailbox_states(session).items())
        if state.health != MailboxHealth.OK
    }


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None

"""Mail transports: one interface, a file outbox (the default and the test fake), SMTP, and
the router that sends each SDR's email through their own mailbox."""

from collections.abc import Sequence

from cadence.transports.base import MailTransport
from cadence.transports.mailbox_router import MailboxRoute, MailboxRouter
from cadence.transports.outbox import FileOutbox
from cadence.transports.smtp import SmtpTransport


def build_transport(
    *, smtp_url: str | None, outbox_dir: str, mailboxes: Sequence[MailboxRoute] = ()
) -> MailTransport:
    """SMTP when ``CADENCE_SMTP_URL`` is set, else one ``.eml`` file per email; routed
    through the SDRs' own mailboxes for those that have one (``mailboxes``)."""
    team: MailTransport = SmtpTransport.from_url(smtp_url) if smtp_url else FileOutbox(outbox_dir)
    if mailboxes:
        return MailboxRouter(team, mailboxes)
    return team


__all__ = [
    "FileOutbox",
    "MailTransport",
    "MailboxRoute",
    "MailboxRouter",
    "SmtpTransport",
    "build_transport",
]

"""Mail transports: one interface, a file outbox (the default and the test fake) and SMTP."""

from cadence.transports.base import MailTransport
from cadence.transports.outbox import FileOutbox
from cadence.transports.smtp import SmtpTransport


def build_transport(*, smtp_url: str | None, outbox_dir: str) -> MailTransport:
    """SMTP when ``CADENCE_SMTP_URL`` is set, else one ``.eml`` file per email."""
    if smtp_url:
        return SmtpTransport.from_url(smtp_url)
    return FileOutbox(outbox_dir)


__all__ = ["FileOutbox", "MailTransport", "SmtpTransport", "build_transport"]

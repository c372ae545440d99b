"""Compose the RFC 5322 message for an email touch (contract.md, "Delivered email")."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime


@dataclass(frozen=True)
class ThreadParent:
    """The earlier touch a ``thread = "reply"`` step answers and quotes."""

    message_id: str
    references: tuple[str, ...]
    subject: str
    body: str
    sent_at: datetime
    sender_display: str


def new_message_id(touch_id: int, domain: str) -> str:
    """Unique on the sender's domain; the touch id makes it traceable by eye."""
    return f"<cadence.{touch_id}.{secrets.token_hex(8)}@{domain}>"


def reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def quote_below(body: str, parent: ThreadParent) -> str:
    """The new text, then the earlier email quoted as mail clients do ("On … wrote:")."""
    sent = parent.sent_at if parent.sent_at.tzinfo else parent.sent_at.replace(tzinfo=UTC)
    when = sent.astimezone(UTC).strftime("%a, %-d %b %Y at %H:%M UTC")
    quoted = "\n".join(f"> {line}" if line else ">" for line in parent.body.splitlines())
    return f"{body}\n\nOn {when}, {parent.sender_display} wrote:\n{quoted}\n"


@dataclass(frozen=True)
class OutgoingEmail:
    touch_id: int
    message_id: str
    sender_name: str
    sender_email: str
    recipient_name: str
    recipient_email: str
    subject: str
    body: str
    date: datetime
    unsubscribe_url: str
    unsubscribe_mailto: str
    parent: ThreadParent | None = None


#: Headers such as List-Unsubscribe hold long URLs: fold only at whitespace (RFC 5322 allows
#: 998 characters a line) so a URL is never turned into an RFC 2047 encoded word.
_POLICY = SMTP.clone(max_line_length=998)


def compose(email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["Message-ID"] = email.message_id
    message["Date"] = format_datetime(email.date)
    message["From"] = _address(email.sender_name, email.sender_email)
    message["To"] = _address(email.recipient_name, email.recipient_email)
    message["Subject"] = email.subject
    if email.parent is not None:
        message["In-Reply-To"] = email.parent.message_id
        message["References"] = " ".join((*email.parent.references, email.parent.message_id))
    message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>, <{email.unsubscribe_mailto}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Cadence-Touch"] = str(email.touch_id)
    message.set_content(email.body + ("" if email.body.endswith("\n") else "\n"))
    return message


def _address(display: str, addr: str) -> Address:
    local, _, domain = addr.partition("@")
    return Address(display_name=display, username=local, domain=domain)

"""Compose the RFC 5322 message for an email touch: Message-ID, Date, From, To, Subject, a
plain-text body, List-Unsubscribe (one-click) and X-Cadence-Touch on every one; In-Reply-To
and References on a reply in the thread."""

import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from cadence.delivery import header_values
from cadence.transports.wire import CONTENT_TYPE, MAX_LINE, POLICY


@dataclass(frozen=True)
class ThreadParent:
    """The earlier touch a ``thread = "reply"`` step answers and quotes."""

    message_id: str
    references: tuple[str, ...]
    subject: str
    body: str
    sent_at: datetime
    sender_display: str


class _Entropy(threading.local):
    """Random bytes from the OS drawn 512 at a time per thread: ``os.urandom`` gives up the
    GIL, and a worker thread asking for 8 bytes a touch then waited for it behind the
    others. A forked child forgets what it inherited, so it never repeats its parent's."""

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        self.pool = b""
        self.used = 0

    def token_hex(self, size: int) -> str:
        if self.used + size > len(self.pool):
            self.pool, self.used = secrets.token_bytes(512), 0
        start = self.used
        self.used += size
        return self.pool[start : self.used].hex()


_ENTROPY = _Entropy()
os.register_at_fork(after_in_child=_ENTROPY.forget)


def new_message_id(touch_id: int, domain: str) -> str:
    """Unique on the sender's domain; the touch id makes it traceable by eye, the random
    part unguessable."""
    return f"<cadence.{touch_id}.{_ENTROPY.token_hex(8)}@{domain}>"


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


def compose(email: OutgoingEmail) -> EmailMessage:
    """Build the message with every header stored in its final wire form.

    Values built from data (names, subject, addresses, ids, links) are written by
    :mod:`cadence.delivery.header_values`, which never parses them: a value is data, however
    it looks. Raises :class:`ValueError` for a CR or LF in a name or subject, or an address,
    Message-ID or link that a header cannot carry; the touch then fails alone. Reading a
    header still parses it with the policy, so callers see the usual header objects.
    """
    message = EmailMessage(policy=POLICY)
    message.set_raw("Message-ID", header_values.msg_id(email.message_id))
    message.set_raw("Date", format_datetime(email.date))
    message.set_raw("From", header_values.mailbox(email.sender_name, email.sender_email))
    message.set_raw("To", header_values.mailbox(email.recipient_name, email.recipient_email))
    message.set_raw("Subject", header_values.unstructured("Subject", email.subject))
    if email.parent is not None:
        message.set_raw("In-Reply-To", header_values.msg_id(email.parent.message_id))
        chain = (*email.parent.references, email.parent.message_id)
        message.set_raw("References", header_values.msg_id_list(chain))
    links = (email.unsubscribe_url, email.unsubscribe_mailto)
    message.set_raw("List-Unsubscribe", header_values.uri_list(links))
    message.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    message.set_raw("X-Cadence-Touch", str(int(email.touch_id)))
    _set_text_body(message, email.body + ("" if email.body.endswith("\n") else "\n"))
    return message


def _set_text_body(message: EmailMessage, text: str) -> None:
    """text/plain in UTF-8: 7bit or 8bit as the content manager picks when every line fits;
    otherwise the content manager itself chooses quoted-printable or base64."""
    data = text.encode()
    lines = data.splitlines()
    if max(map(len, lines), default=0) > MAX_LINE:
        message.set_content(text)
        return
    message.set_raw("Content-Type", CONTENT_TYPE)
    message.set_raw("Content-Transfer-Encoding", "7bit" if data.isascii() else "8bit")
    message.set_raw("MIME-Version", "1.0")
    # Line endings normalised to LF as the content manager does; the generator writes CRLF.
    message.set_payload(b"\n".join(lines).decode("ascii", "surrogateescape") + "\n")

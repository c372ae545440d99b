"""Compose the RFC 5322 message for an email touch (contract.md, "Delivered email")."""

import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

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


_VISIBLE = r"[^\s\x00-\x1f\x7f\ud800-\udfff]"
#: Words of visible characters split by single spaces: text whose spacing every parser keeps
#: as it is. Other whitespace, controls (CR and LF among them, so an injection attempt meets
#: the registry, which refuses it) and lone surrogates take the registry path.
_SIMPLE = re.compile(rf"(?:{_VISIBLE}+(?: {_VISIBLE}+)*)?")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
#: An addr-spec half the registry would write unquoted.
_DOT_ATOM = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
#: RFC 2047's limit on one encoded word.
_MAX_ENCODED_WORD = 75


def compose(email: OutgoingEmail) -> EmailMessage:
    """Build the message with headers stored pre-encoded, as the SMTP policy would write them.

    Setting headers through the header registry (parse on set, parse again to fold) was most
    of a worker's CPU per email. Printable ASCII values are stored verbatim with ``set_raw``,
    non-ASCII text becomes RFC 2047 encoded words, and anything unusual (control characters
    or CR/LF, odd spacing, a local part needing quotes, an encoded-word lookalike, body lines
    over 998 octets) goes through the registry as before. Reading a header still parses it
    with the policy, so callers see the same header objects as before.
    """
    message = EmailMessage(policy=POLICY)
    _put(message, "Message-ID", email.message_id)
    message.set_raw("Date", format_datetime(email.date))
    _put_address(message, "From", email.sender_name, email.sender_email)
    _put_address(message, "To", email.recipient_name, email.recipient_email)
    _put_text(message, "Subject", email.subject)
    if email.parent is not None:
        _put(message, "In-Reply-To", email.parent.message_id)
        _put(message, "References", " ".join((*email.parent.references, email.parent.message_id)))
    _put(message, "List-Unsubscribe", f"<{email.unsubscribe_url}>, <{email.unsubscribe_mailto}>")
    message.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    message.set_raw("X-Cadence-Touch", str(email.touch_id))
    _set_text_body(message, email.body + ("" if email.body.endswith("\n") else "\n"))
    return message


def _plain(value: str) -> bool:
    """Printable ASCII, written as given (a line over 998 is refolded when sent). Empty takes
    the registry, which writes ``Subject:`` with no trailing space."""
    return value.isascii() and value.isprintable() and value != ""


def _put(message: EmailMessage, name: str, value: str) -> None:
    if _plain(value):
        message.set_raw(name, value)
    else:
        message[name] = value


def _put_text(message: EmailMessage, name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        # The registry refuses these inside a value but lets one through at the end, where it
        # becomes a bare CR or LF in the header; refuse them all alike.
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    if value.isascii() or "=?" in value or not _SIMPLE.fullmatch(value):
        _put(message, name, value)
        return
    # Encoded words of at most 75 characters, folded between words.
    words = Header(value, "utf-8", header_name=name).encode(linesep="\r\n", maxlinelen=76)
    message.set_raw(name, words)


def _put_address(message: EmailMessage, name: str, display: str, addr: str) -> None:
    local, _, domain = addr.partition("@")
    # The registry keeps an encoded-word lookalike ("=?…?=") in a name literally in memory.
    simple = _SIMPLE.fullmatch(display) and "=?" not in display
    if simple and _DOT_ATOM.fullmatch(local) and _DOT_ATOM.fullmatch(domain):
        # Quoted if need be; a non-ASCII name becomes one encoded word, not several, since
        # Python's own parser keeps the space between encoded words in a phrase.
        value = formataddr((display, addr))
        fits = len(name) + 2 + len(value) <= MAX_LINE  # else the registry folds it, as before
        if fits and (display.isascii() or len(value) - len(addr) - 3 <= _MAX_ENCODED_WORD):
            message.set_raw(name, value)
            return
    message[name] = Address(display_name=display, username=local, domain=domain)


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

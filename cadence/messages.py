"""Compose the RFC 5322 message for an email touch (contract.md, "Delivered email")."""

import functools
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import Any


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


class _HeaderFactory(HeaderRegistry):
    """The stock registry, made cheap to read from: it builds each header class once (the
    stock one builds a new class on every call), and keeps recent parsed headers, since the
    generator reads Content-Type and Content-Transfer-Encoding on every ``as_bytes`` and a
    transport reads the same From for every email of a sender. Header objects are immutable,
    so messages can share them."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._parsed = functools.lru_cache(maxsize=256)(self._parse)

    def __reduce__(self) -> str:
        """Pickle and deepcopy as the module's one instance (its classes are not importable)."""
        return "_HEADERS"

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if isinstance(value, str):
            return self._parsed(name, value)
        return self._parse(name, value)

    def _parse(self, name: str, value: Any) -> BaseHeader:
        return self[name](name, value)


_HEADERS = _HeaderFactory()
_MAX_LINE = 998
#: Headers such as List-Unsubscribe hold long URLs: fold only at whitespace (RFC 5322 allows
#: 998 characters a line) so a URL is never turned into an RFC 2047 encoded word.
_POLICY = SMTP.clone(max_line_length=_MAX_LINE, header_factory=_HEADERS)
_CONTENT_TYPE = 'text/plain; charset="utf-8"'

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
    message = EmailMessage(policy=_POLICY)
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
        fits = len(name) + 2 + len(value) <= _MAX_LINE  # else the registry folds it, as before
        if fits and (display.isascii() or len(value) - len(addr) - 3 <= _MAX_ENCODED_WORD):
            message.set_raw(name, value)
            return
    message[name] = Address(display_name=display, username=local, domain=domain)


def _set_text_body(message: EmailMessage, text: str) -> None:
    """text/plain in UTF-8: 7bit or 8bit as the content manager picks when every line fits;
    otherwise the content manager itself chooses quoted-printable or base64."""
    data = text.encode()
    lines = data.splitlines()
    if max(map(len, lines), default=0) > _MAX_LINE:
        message.set_content(text)
        return
    message.set_raw("Content-Type", _CONTENT_TYPE)
    message.set_raw("Content-Transfer-Encoding", "7bit" if data.isascii() else "8bit")
    message.set_raw("MIME-Version", "1.0")
    # Line endings normalised to LF as the content manager does; the generator writes CRLF.
    message.set_payload(b"\n".join(lines).decode("ascii", "surrogateescape") + "\n")


_NEWLINE = re.compile(r"\r\n|\r|\n")


def wire_bytes(message: EmailMessage) -> bytes:
    """``message.as_bytes()``, joined directly for a message as :func:`compose` builds it.

    The generator folds every header through the policy and writes the body line by line:
    21-28 µs an email, against 4-5 µs joined here. Only that shape takes this path:
    headers stored as ASCII text the policy would write unchanged (CRLF only before folded
    lines, none over 998 octets) and one text/plain UTF-8 body held as text. Anything else
    is left to ``as_bytes`` itself, so the bytes, and the errors, are the same."""
    payload = getattr(message, "_payload", None)  # what the generator writes, undecoded
    if message.policy is not _POLICY or message.get_unixfrom() is not None:
        return message.as_bytes()
    if not isinstance(payload, str):
        return message.as_bytes()
    parts = []
    content_type = None
    for name, value in message.raw_items():
        if type(value) is not str or not _written_as_is(name, value):  # not a parsed header
            return message.as_bytes()
        if content_type is None and name.lower() == "content-type":  # the first, as read
            content_type = value
        parts.append(f"{name}: {value}\r\n")
    if content_type != _CONTENT_TYPE:  # other types' bodies are written other ways
        return message.as_bytes()
    parts.append("\r\n")
    body = payload.replace("\n", "\r\n") if "\r" not in payload else _NEWLINE.sub("\r\n", payload)
    try:
        return "".join(parts).encode("ascii") + body.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return message.as_bytes()


def _written_as_is(name: str, value: str) -> bool:
    """Whether the policy writes ``name: value`` back unchanged: ASCII, folded (if at all)
    with CRLF and whitespace, every line within the limit, so it does not refold it."""
    if not value.isascii():
        return False
    if value.isprintable():  # one line: no CR, LF or other line break
        return value != "" and len(name) + 2 + len(value) <= _MAX_LINE
    lines = value.splitlines()
    if "\r\n".join(lines) != value or not lines:
        return False
    if len(name) + 2 + len(lines[0]) > _MAX_LINE:
        return False
    return all(line[:1] in (" ", "\t") and len(line) <= _MAX_LINE for line in lines[1:])

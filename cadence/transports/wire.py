"""The bytes of a message on the wire, and the email policy every outgoing message uses.

Shared by the transports (which write the bytes) and the composer (which builds messages
in the shape the fast path below recognises)."""

import functools
import re
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any


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
MAX_LINE = 998
#: Headers such as List-Unsubscribe hold long URLs: fold only at whitespace (RFC 5322 allows
#: 998 characters a line) so a URL is never turned into an RFC 2047 encoded word.
POLICY = SMTP.clone(max_line_length=MAX_LINE, header_factory=_HEADERS)
CONTENT_TYPE = 'text/plain; charset="utf-8"'


_NEWLINE = re.compile(r"\r\n|\r|\n")


def wire_bytes(message: EmailMessage) -> bytes:
    """``message.as_bytes()``, joined directly for a message as
    :func:`cadence.delivery.compose.compose` builds it.

    The generator folds every header through the policy and writes the body line by line:
    several times the cost of joining them here. Only that shape takes this path:
    headers stored as ASCII text the policy would write unchanged (CRLF only before folded
    lines, none over 998 octets) and one text/plain UTF-8 body held as text. Anything else
    is left to ``as_bytes`` itself, so the bytes, and the errors, are the same."""
    payload = getattr(message, "_payload", None)  # what the generator writes, undecoded
    if message.policy is not POLICY or message.get_unixfrom() is not None:
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
    if content_type != CONTENT_TYPE:  # other types' bodies are written other ways
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
        return value != "" and len(name) + 2 + len(value) <= MAX_LINE
    lines = value.splitlines()
    if "\r\n".join(lines) != value or not lines:
        return False
    if len(name) + 2 + len(lines[0]) > MAX_LINE:
        return False
    return all(line[:1] in (" ", "\t") and len(line) <= MAX_LINE for line in lines[1:])

"""Tolerant reading of raw mail: headers, addresses, Message-IDs and body text.

Real inbound mail breaks every rule (8-bit headers, charsets Python does not know, missing
boundaries, HTML only), so each helper here degrades to a best guess instead of raising.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.utils
import re
from collections.abc import Iterator
from email.message import Message

from cadence.inbound.classification.html_text import html_to_text

MAX_RAW_BYTES = 5_000_000
MAX_TEXT_CHARS = 200_000

_CHARSET_ALIASES = {
    "iso-8859-8-i": "iso-8859-8",
    "x-user-defined": "windows-1252",
    "ansi_x3.4-1968": "ascii",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
    "x-mac-roman": "mac-roman",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
# Declared Western charsets are often a lie for UTF-8 text; try UTF-8 first for them.
_WESTERN = frozenset({"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "iso_8859-1"})
_STRAY_MIME_LINE = re.compile(r"^(?:--[^\s]{1,200}|content-[\w-]+:[^\n]*)[ \t]*$\n?", re.I | re.M)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_ADDRESS = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+", re.I
)


def parse(raw: bytes) -> Message:
    """Parse raw bytes with the lenient compat32 policy (the default one raises on bad headers)."""
    return email.message_from_bytes(raw[:MAX_RAW_BYTES])


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode ``data`` using ``charset`` when it works, else UTF-8, else windows-1252."""
    name = (charset or "").strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    candidates: list[str] = []
    if name in _WESTERN:
        candidates = ["utf-8", "windows-1252"]
    elif name:
        candidates = [name, "utf-8"]
    else:
        candidates = ["utf-8"]
    for candidate in candidates:
        try:
            codecs.lookup(candidate)
            return data.decode(candidate)
        except (LookupError, UnicodeError, ValueError):
            continue
    return data.decode("windows-1252", errors="replace")


def _repair(value: str) -> str:
    """Turn the surrogate escapes compat32 leaves for 8-bit header bytes back into text."""
    if any("\udc80" <= char <= "\udcff" for char in value):
        return decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    return value


#: Header text decoded at most: decoding encoded words costs time that grows faster than
#: their number, and no header a classifier reads needs more.
MAX_HEADER_CHARS = 16_384


def decode_header_value(value: str) -> str:
    """Decode RFC 2047 encoded words and unfold; unknown charsets degrade to a guess. Only
    the first :data:`MAX_HEADER_CHARS` are read, and NUL characters (which no header may
    carry, and PostgreSQL refuses in text) are dropped."""
    value = _repair(value[:MAX_HEADER_CHARS])
    try:
        chunks = email.header.decode_header(value)
    except Exception:  # malformed encoded words: keep the raw text
        chunks = [(value, None)]
    pieces: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            pieces.append(decode_bytes(chunk, charset))
        else:
            pieces.append(chunk)
    return " ".join("".join(pieces).replace("\x00", "").split())


def header(msg: Message, name: str) -> str:
    """The first ``name`` header, decoded, or an empty string."""
    values = headers(msg, name)
    return values[0] if values else ""


def headers(msg: Message, name: str) -> list[str]:
    """Every ``name`` header, decoded, in message order."""
    wanted = name.lower()
    found: list[str] = []
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            found.append(decode_header_value(str(value)))
    return found


def address(value: str) -> str | None:
    """The lowercased mailbox address in a header value such as ``"Ann" <ann@x.com>``."""
    try:
        _, parsed = email.utils.parseaddr(value)
    except Exception:  # parseaddr raises on a few pathological inputs
        parsed = ""
    if "@" not in parsed:
        match = _ADDRESS.search(value)
        parsed = match.group(0) if match else ""
    parsed = parsed.strip().strip("<>").lower()
    return parsed if "@" in parsed else None


def display_name(value: str) -> str:
    """The display name of a From value, or an empty string."""
    try:
        name, _ = email.utils.parseaddr(value)
    except Exception:  # parseaddr raises on a few pathological inputs
        return ""
    return name.strip()


def find_addresses(text: str) -> list[str]:
    """Every email address in ``text``, lowercased, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _ADDRESS.finditer(text):
        seen.setdefault(match.group(0).lower().strip(".-"), None)
    return list(seen)


def message_ids(value: str) -> list[str]:
    """The ``<...>`` Message-IDs in a header value, in order."""
    return _MESSAGE_ID.findall(value)


def leaf_parts(msg: Message) -> Iterator[Message]:
    """Leaf parts, without descending into attached messages (they are yielded whole)."""
    stack = [msg]
    while stack:
        part = stack.pop()
        if part.get_content_maintype() == "message" and part is not msg:
            yield part
            continue
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend(reversed([child for child in payload if isinstance(child, Message)]))
        else:
            yield part


def part_text(part: Message) -> str:
    """The decoded text of one leaf part, capped at ``MAX_TEXT_CHARS``."""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # broken transfer encodings
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        if isinstance(payload, list):
            return "\n".join(part_text(child) for child in payload if isinstance(child, Message))
        data = _repair(str(payload)).encode("utf-8", "replace")
    text = decode_bytes(data[: MAX_TEXT_CHARS * 2], part.get_content_charset())
    if part.get_content_maintype() == "multipart":
        # Its boundary never appears: drop the part delimiters and headers it still holds.
        text = _STRAY_MIME_LINE.sub("", text)
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").replace("\r", "\n")[:MAX_TEXT_CHARS]


def _is_attachment(part: Message) -> bool:
    return header(part, "Content-Disposition").lower().startswith("attachment")


def body_text(msg: Message) -> str:
    """The message's own readable text: plain text when there is any, else HTML as text.

    Attached messages (bounced originals, forwarded mail) are not part of it.
    """
    plain: list[str] = []
    html: list[str] = []
    for part in leaf_parts(msg):
        kind = part.get_content_type()
        if part.get_content_maintype() == "message" or _is_attachment(part):
            continue
        if kind == "text/html":
            html.append(part_text(part))
        elif kind in ("text/plain", "text/enriched") or kind.startswith("multipart/"):
            # A multipart leaf is a multipart whose boundary never appears: read it as text.
            plain.append(part_text(part))
    chosen = plain if any(text.strip() for text in plain) else html
    return "\n\n".join(text for text in chosen if text.strip())[:MAX_TEXT_CHARS]


def attached_messages(msg: Message) -> Iterator[Message]:
    """Messages attached as message/rfc822 or text/rfc822-headers parts, parsed."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list):
                for child in payload:
                    if isinstance(child, Message):
                        yield child
            elif isinstance(payload, str) and payload.strip():
                yield parse(_repair(payload).encode("utf-8", "replace"))
        elif kind in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            yield parse(part_text(part).encode("utf-8", "replace"))

"""Header values written from data, in their final wire form.

Names, subjects and addresses come from prospects, templates and config: untrusted. Nothing
here hands them to a parser (the header registry decodes an RFC 2047 encoded word in a
display name, so ``=?utf-8?q?Evil=0D=0ABcc:...?=`` became a real ``Bcc:`` header). Text is
written as it is only when it is printable ASCII that no reader would decode; anything else
(non-ASCII, other whitespace, NUL, U+2028, an encoded-word lookalike) becomes RFC 2047
encoded words of the literal text, so a reader sees exactly the characters given, as data.
"""

import base64
import re
from urllib.parse import quote

from cadence.transports.wire import MAX_LINE

#: Printable ASCII words split by single spaces: read back the same by every parser.
_PLAIN = re.compile(r"[!-~]+(?: [!-~]+)*")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
#: A display name of atoms alone, written without quotes.
_ATOMS = re.compile(rf"{_ATEXT}(?: {_ATEXT})*")
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
_DOMAIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
#: ``<left@right>`` of printable ASCII, no brackets or spaces inside.
_MSG_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")
#: What a URI keeps as it is: printable ASCII but the angle brackets that delimit it.
_URI_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "<>")
#: 39 bytes of UTF-8 are 52 of base64: with ``=?utf-8?b?`` and ``?=`` 64, under RFC 2047's 75,
#: and a first line ``Subject: =?…?=`` within 78.
_WORD_BYTES = 39
#: RFC 5322's advice for a line; folding aims for it.
_FOLD_AT = 78
_BREAKS = "Header values may not contain linefeed or carriage return characters"


def unstructured(name: str, text: str) -> str:
    """A Subject-like value: as given when plain and it fits a line, else encoded words
    folded one a line (readers join adjacent encoded words without the space between)."""
    _refuse_line_breaks(text)
    if not text:
        return ""
    if _is_plain(text) and len(name) + 2 + len(text) <= MAX_LINE:
        return text
    return _folded(_encoded_words(text), separator=" ")


def mailbox(display: str, address: str) -> str:
    """``Name <local@domain>``, or the bare address when there is no name. The name is data:
    quoted or encoded, never parsed. An encoded name is one encoded word whatever its
    length (as the header registry writes it): Python's parser keeps the space between two
    encoded words in a name, where RFC 2047 readers drop it, so only one word reads the same
    everywhere. Raises :class:`ValueError` for a name too long for a header line."""
    _refuse_line_breaks(display)
    spec = addr_spec(address)
    if not display:
        return spec
    if _is_plain(display):
        phrase = display if _ATOMS.fullmatch(display) else _quoted(display)
    else:
        phrase = _word(_utf8(display))
    if len(phrase) + len(spec) + 20 > MAX_LINE:
        raise ValueError(f"display name {display[:40]!r}… is too long for a header")
    return _folded([phrase, f"<{spec}>"], separator=" ")


def addr_spec(address: str) -> str:
    """``local@domain`` in ASCII (the domain IDNA-encoded); raises :class:`ValueError` for
    anything a header could not carry as one plain address."""
    local, at, domain = address.rpartition("@")
    if not at or not _DOT_ATOM.fullmatch(local):
        raise ValueError(f"{address!r} is not an address this mailer can write in a header")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"{address!r} has a domain that cannot be IDNA-encoded") from exc
    if not _DOMAIN.fullmatch(ascii_domain) or len(local) + len(ascii_domain) > 254:
        raise ValueError(f"{address!r} is not an address this mailer can write in a header")
    return f"{local}@{ascii_domain}"


def msg_id(value: str) -> str:
    """A Message-ID as stored: ``<left@right>``; raises :class:`ValueError` otherwise."""
    _refuse_line_breaks(value)
    if not _MSG_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a Message-ID (<left@right>, printable ASCII)")
    return value


def msg_id_list(values: tuple[str, ...]) -> str:
    """References: Message-IDs separated by spaces, folded between them only past 998."""
    return _folded([msg_id(v) for v in values], separator=" ", width=MAX_LINE)


def uri_list(uris: tuple[str, ...]) -> str:
    """List-Unsubscribe: ``<uri>, <uri>``, folded between them only past 998 (never inside
    a URI, never encoded). Spaces, angle brackets and non-ASCII are percent-encoded; raises
    :class:`ValueError` for a URI too long for a line."""
    quoted = [quote(uri, safe=_URI_SAFE) for uri in uris]
    for uri in quoted:
        if len(uri) + 20 > MAX_LINE:
            raise ValueError(f"{uri[:80]!r}… is too long for a header line")
    return _folded([f"<{u}>" for u in quoted], separator=", ", width=MAX_LINE)


def _folded(items: list[str], *, separator: str, width: int = _FOLD_AT) -> str:
    """``items`` joined by ``separator``, a new line (CRLF and a space) where the next item
    would pass ``width`` counting a header name of up to 20 characters."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(separator) + len(item) + 20 <= width:
            lines[-1] += separator + item
        elif lines:
            lines[-1] += separator.rstrip()
            lines.append(item)
        else:
            lines.append(item)
    return "\r\n ".join(lines)


def _is_plain(text: str) -> bool:
    return "=?" not in text and _PLAIN.fullmatch(text) is not None


def _refuse_line_breaks(text: str) -> None:
    if "\r" in text or "\n" in text:
        raise ValueError(_BREAKS)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _encoded_words(text: str) -> list[str]:
    """Base64 encoded words of at most 39 bytes of UTF-8 each, cut between characters so
    each decodes alone. A lone surrogate, which UTF-8 cannot carry, becomes U+FFFD."""
    data = _utf8(text).decode("utf-8")
    words: list[str] = []
    chunk = bytearray()
    for char in data:
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(_word(bytes(chunk)))
            chunk.clear()
        chunk += encoded
    if chunk or not words:
        words.append(_word(bytes(chunk)))
    return words


def _utf8(text: str) -> bytes:
    """UTF-8, with a lone surrogate (which UTF-8 cannot carry) as U+FFFD."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode("utf-8")


def _word(data: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="

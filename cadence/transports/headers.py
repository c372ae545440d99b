"""Reading a composed message's own headers back without the email policy's parsers."""

import re
from email.message import Message
from email.utils import parseaddr


def raw_header(message: Message, name: str, default: str = "") -> str:
    """The header's value as composed; ``message[name]`` would build a structured header
    object per read, which cost more than the rest of a file-outbox send."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return default


def envelope_address(message: Message, name: str) -> str:
    """The bare address of a From or To header, for the SMTP envelope or a file name.

    Headers as ``formataddr`` writes them (``Name <addr>``) are cut at the brackets;
    anything else goes through ``parseaddr``, slow enough to show in a file-outbox send's
    profile."""
    value = raw_header(message, name).strip()
    if value.endswith(">") and "<" in value:
        address = value[value.rfind("<") + 1 : -1]
        if _PLAIN.fullmatch(address) and _PLAIN_NAME.fullmatch(value[: -len(address) - 2]):
            return address
    elif _PLAIN.fullmatch(value):
        return value
    return parseaddr(value)[1]


#: An address with nothing parseaddr would read differently (no quotes, comments, routes).
_PLAIN = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
#: A display name formataddr wrote: a quoted string without escapes, or plain words.
_PLAIN_NAME = re.compile(r'(?:"[^"\\]*"|[^"\\<>()@,;:\[\]]*?)[ ]*')

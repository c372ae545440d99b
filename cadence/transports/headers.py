"""Reading a composed message's own headers back without the email policy's parsers."""

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
    """The bare address of a From or To header, for the SMTP envelope or a file name."""
    return parseaddr(raw_header(message, name))[1]

"""Machine-readable report parts (RFC 3464 delivery status, RFC 5965 feedback reports).

Both are blocks of ``Field: value`` lines separated by blank lines. compat32 sometimes parses
them into sub-messages and sometimes leaves text (or base64), so both shapes are read here.
"""

from __future__ import annotations

import re
from email.message import Message

from cadence.inbound.classification.mime_text import decode_header_value, part_text

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*:\s*(.*)$")

Fields = dict[str, str]


def report_parts(msg: Message, *content_types: str) -> list[Message]:
    """Every part of one of ``content_types``, wherever it sits in the message."""
    return [part for part in msg.walk() if part.get_content_type() in content_types]


def parse_field_text(text: str) -> list[Fields]:
    """Split ``Field: value`` text into blocks; folded lines continue the previous field."""
    blocks: list[Fields] = []
    current: Fields = {}
    last = ""
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t" and last:
            current[last] += " " + line.strip()
            continue
        match = _FIELD.match(line)
        if match:
            last = match.group(1).lower()
            value = match.group(2).strip()
            current[last] = f"{current[last]}, {value}" if last in current else value
    if current:
        blocks.append(current)
    return blocks


def field_blocks(part: Message) -> list[Fields]:
    """The field blocks of one report part, however the parser stored it."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks: list[Fields] = []
        for block in payload:
            if not isinstance(block, Message):
                continue
            fields: Fields = {}
            for name, value in block.raw_items():
                fields[name.lower()] = decode_header_value(str(value))
            body = block.get_payload()
            if isinstance(body, str) and ":" in body:
                # A blank line inside one block makes compat32 treat the rest as its body.
                blocks.append(fields)
                blocks.extend(parse_field_text(body))
                continue
            if fields:
                blocks.append(fields)
        return blocks
    return parse_field_text(part_text(part))


def typed_value(value: str) -> str:
    """``rfc822; ann@example.com`` -> ``ann@example.com``; ``smtp; 550 …`` -> ``550 …``."""
    kind, separator, rest = value.partition(";")
    if separator and re.fullmatch(r"\s*[A-Za-z0-9.-]{1,20}\s*", kind):
        return rest.strip()
    return value.strip()

"""Which address bounced: the recipient we wrote to, never ours, a daemon's or a list's.

A DSN names it in ``Original-Recipient`` (the address as we sent it, before an alias or a
forward rewrote it) or ``Final-Recipient``. Prose bounces name it after a lead phrase
("the following addresses failed:"), above the copy of the original message; the addresses
the bounce is sent to, the postmaster to write to and our own list's address are not it.
Servers decorate addresses (``'ann@x.com'``, ``smtp=ann@x.com``, ``rfc822;ann@x.com``):
the decoration goes.
"""

from __future__ import annotations

import re
from email.message import Message

from cadence.inbound.classification.bounce_signs import DAEMON_LOCAL
from cadence.inbound.classification.mime_text import address, find_addresses, header, headers
from cadence.inbound.classification.report_fields import Fields, typed_value

# Where the copy of the original message begins: addresses and codes below it are not the
# failure's.
_COPY_MARKER = re.compile(
    r"^[ \t]*(?:-{2,}\s*below this line is a copy|-{2,}\s*this is a copy of the message|"
    r"-{2,}\s*original message|original message headers|-{2,}\s*the header of the original|"
    r"-{2,}\s*original message follows|-{2,}\s*returned message|-{2,}\s*unsent message below|"
    r"-{2,}\s*message header follows|return-path:|received: from|original message details|"
    r"a copy of the original message below|your message reads \(in part\)|"
    r"(?:the )?first \d+ lines of (?:your|the) original message follow|"
    r"-{2,}\s*mensaje original|-{2,}\s*ursprüngliche nachricht|-{2,}\s*附件中的内容是原信件)",
    re.I | re.M,
)
# Phrases that put the failed address right after them (same line or the next lines).
_ADDRESS_LEAD = re.compile(
    r"(?:following address(?:\(es\)|es)? failed:|permanent fatal errors -+|"
    r"delivery (?:has failed|is delayed) to these recipients or (?:groups|distribution lists):|"
    r"cannot be reached:|was not delivered to:?|undeliverable to the following:?|"
    r"your message to|wasn't delivered to|was not delivered to|delivering your message to|"
    r"unable to deliver (?:your )?message to(?: the following address(?:es|\(es\))?)?\.?|"
    r"following recipients?(?:\(s\))?:?|to the following (?:recipients|addresses):?|"
    r"could not be delivered to:?|^<(?=[^>\s]+@)|^\*\s*\[?(?=[^\s\]]+@)|rcpt to:\s*<?|"
    r"final-recipient:\s*rfc822;|original-recipient:\s*rfc822;|user \S+ \(|"
    r"intended recipient:|recipient address:|originally addressed to|addressed to|"
    r"(?:expanded|generated) from:?|did not reach the following recipient:?|unknown user:|"
    r"to the following user:?|which your message was addressed,?)",
    re.I | re.M,
)
_HEADER_LINE = re.compile(r"^\s*(?:message-id|in-reply-to|references|from|reply-to|sender):", re.I)
_DECORATION = re.compile(r"^(?:smtp|rfc822|mailto|sip)\s*[=:;]\s*", re.I)
_QUOTES = "'\"`“”‘’<>[]()"


def clean_address(candidate: str) -> str | None:
    """``'Ann@X.com'`` or ``smtp=ann@x.com`` -> ``ann@x.com``; None unless it is an address
    on a dotted domain (``user@sims-ms-daemon`` is a server's internal name)."""
    value = _DECORATION.sub("", candidate.strip().strip(_QUOTES)).strip(_QUOTES).lower()
    local, separator, domain = value.rpartition("@")
    if not separator or not local or "." not in domain or domain.endswith("."):
        return None
    return value


def dsn_recipients(fields: Fields) -> list[str]:
    """The address we sent to: Original-Recipient when it reads, else Final-Recipient."""
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        found = [
            cleaned
            for value in fields.get(name, "").split(",")
            if (cleaned := clean_address(address(typed_value(value)) or ""))
        ]
        if found:
            return found
    return []


_LIST_SUFFIX = re.compile(r"^(.+?)(?:[-+](?:bounces?|admin|owner|request|errors)(?:[-+].*)?|\+.*)$")


def _with_list_base(found: set[str]) -> set[str]:
    """``team-bounces@lists.x`` and ``team+verp@lists.x`` also stand for ``team@lists.x``,
    the list's own address, which a bounce for the list may name."""
    more = set(found)
    for value in found:
        local, _, domain = value.partition("@")
        match = _LIST_SUFFIX.match(local)
        if match:
            more.add(f"{match.group(1)}@{domain}")
    return more


def delivered_to(msg: Message) -> set[str]:
    """The addresses the bounce itself was sent to: ours, or our list's."""
    found: set[str] = set()
    for name in ("To", "Return-Path", "Delivered-To", "X-Original-To", "Errors-To"):
        for value in headers(msg, name):
            candidate = address(value)
            if candidate:
                found.add(candidate)
    return _with_list_base(found)


def own_addresses(msg: Message, originals: list[Message]) -> set[str]:
    """Addresses the bounce is sent to or from, and the senders of the copied original."""
    own = delivered_to(msg)
    for value in headers(msg, "From") + headers(msg, "Sender"):
        candidate = address(value)
        if candidate:
            own.add(candidate)
    for original in originals:
        for name in ("From", "Sender", "Return-Path", "Reply-To", "Errors-To"):
            candidate = address(header(original, name))
            if candidate:
                own.add(candidate)
    return _with_list_base(own)


def failure_region(text: str) -> str:
    """The part of a bounce's text above the copy of the original message."""
    marker = _COPY_MARKER.search(text)
    return text[: marker.start()] if marker else text


def text_recipients(msg: Message, text: str, originals: list[Message]) -> list[str]:
    """The failed recipients a prose bounce names, most certain first."""
    # Exim and Gmail name the failed recipients in a header: nothing to guess.
    failed = [
        cleaned
        for value in headers(msg, "X-Failed-Recipients")
        for found in find_addresses(value)
        if (cleaned := clean_address(found))
    ]
    if failed:
        return list(dict.fromkeys(failed))
    ours = delivered_to(msg)
    own = own_addresses(msg, originals)
    region = failure_region(text)
    # Message-IDs look like addresses: drop the lines that carry them.
    region = "\n".join(
        line
        for line in region.split("\n")
        if not _HEADER_LINE.match(line) and "message-id" not in line.lower()
    )

    def usable(candidate: str, excluded: set[str]) -> str | None:
        cleaned = clean_address(candidate)
        if cleaned is None or cleaned in excluded:
            return None
        return None if DAEMON_LOCAL.match(cleaned.split("@", 1)[0]) else cleaned

    led: list[str] = []
    for match in _ADDRESS_LEAD.finditer(region):
        # The window ends at a line break after 300 characters so no address is cut in two.
        end = region.find("\n", match.end() + 300)
        window = region[match.end() : end if end != -1 else len(region)]
        # A list member's bounce may copy the member's own post: only the bounce's own
        # recipients are excluded after a lead phrase.
        first = next(
            (found for raw in find_addresses(window) if (found := usable(raw, ours))), None
        )
        if first:
            led.append(first)
    if led:
        return list(dict.fromkeys(led))
    loose = [found for raw in find_addresses(region) if (found := usable(raw, own))]
    if loose:
        return list(dict.fromkeys(loose))[:5]
    for original in originals:
        for value in headers(original, "To"):
            candidate = usable(address(value) or "", own)
            if candidate:
                return [candidate]
    return []

"""Delivery failure notices: RFC 3464 DSNs and the free-text formats MTAs still send.

A DSN names its recipients and codes in a machine-readable part. Older or odd servers
(qmail, Exim, Sendmail, Lotus Domino, GroupWise, Yahoo) only write prose, so for those the
failed addresses come from the prose, above the copy of the original message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from cadence.inbound.classification.bounce_reasons import judge
from cadence.inbound.classification.mime_text import (
    address,
    attached_messages,
    find_addresses,
    header,
    headers,
    message_ids,
)
from cadence.inbound.classification.report_fields import (
    Fields,
    field_blocks,
    report_parts,
    typed_value,
)
from cadence.inbound.classification.verdict import BounceKind

_DAEMON_LOCAL = re.compile(
    r"^(?:mailer[-_.]?daemon|postmaster|mail[-_.]?daemon|mdaemon|mailadmin|"
    r"mail[-_.]?delivery|bounce[-_.]?notification)$",
    re.I,
)
_DAEMON_NAME = re.compile(
    r"mail delivery (?:system|subsystem|service)|mailer.?daemon|postmaster|mail administrator|"
    r"delivery status notification|mail system",
    re.I,
)
_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|delivery (?:failure|failed|report|"
    r"problem|notification|delayed|incomplete)|returned mail|mail delivery (?:failed|failure|"
    r"system)|failure notice|could ?n[o']t (?:be )?deliver|non[- ]?deliver|not delivered|"
    r"delivery has failed|message (?:not delivered|delayed|delivery failed)|mail system error|"
    r"returned to sender|status - undeliverable|warning: could not send|delayed mail|"
    r"unzustellbar|nicht zustellbar|non remis|non distribuable|no se puede entregar|"
    r"no entregado|onbestelbaar|niet bezorgd|não é possível entregar|não entregue|"
    r"non recapitabile|impossibile recapitare|niedostarczon|nie dostarczono|"
    r"nie można dostarczyć|address not found",
    re.I,
)
_BODY = re.compile(
    r"this is the mail system at host|could not be delivered to one or more|"
    r"message that you sent (?:could not be|has not yet been) delivered|qmail-send program|"
    r"permanent fatal errors|the original message was received at|"
    r"delivery (?:has failed|is delayed) to these recipients|"
    r"your message to .{1,200}? (?:couldn't|could not) be delivered|"
    r"your message (?:wasn't|was not|couldn't be|could not be|has not been) delivered|"
    r"address not found|message not delivered|did not reach some or all of the intended|"
    r"recipient\(s\) (?:cannot|could not) be reached|unable to deliver (?:your|the) message|"
    r"was not delivered to|undeliverable to the following|"
    r"delivery to the following recipients? (?:failed|has been delayed)|"
    r"mail delivery failed|wasn't able to deliver|this is a permanent error|"
    r"following address(?:\(es\)|es)? failed|error occurred while trying to deliver|"
    r"message could not be delivered|failed to deliver|delivery status notification|"
    r"non-?delivery (?:report|notification)|delivery incomplete|temporary problem delivering|"
    r"konnte nicht zugestellt werden|zustellung (?:ist )?fehlgeschlagen|unzustellbar|"
    r"n'a pas pu être remis|impossible de remettre|no se (?:pudo|ha podido) entregar|"
    r"no pudo ser entregado|não (?:pôde|foi possível) (?:ser )?entreg|"
    r"non è stato possibile recapitare|impossibile recapitare|kon niet (?:worden )?bezorgd|"
    r"kan niet worden bezorgd|nie (?:może zostać|została|można) dostarcz",
    re.I,
)
# Where the copy of the original message begins: addresses and codes below it are not the
# failure's.
_COPY_MARKER = re.compile(
    r"^[ \t]*(?:-{2,}\s*below this line is a copy|-{2,}\s*this is a copy of the message|"
    r"-{2,}\s*original message|original message headers|-{2,}\s*the header of the original|"
    r"-{2,}\s*original message follows|-{2,}\s*returned message|-{2,}\s*unsent message below|"
    r"-{2,}\s*message header follows|return-path:|received: from|"
    r"-{2,}\s*mensaje original|-{2,}\s*ursprüngliche nachricht)",
    re.I | re.M,
)
# Phrases that put the failed address right after them (same line or the next lines).
_ADDRESS_LEAD = re.compile(
    r"(?:following address(?:\(es\)|es)? failed:|permanent fatal errors -+|"
    r"delivery (?:has failed|is delayed) to these recipients or groups:|"
    r"cannot be reached:|was not delivered to:?|undeliverable to the following:?|"
    r"your message to|wasn't delivered to|was not delivered to|delivering your message to|"
    r"unable to deliver your message to the following address(?:es)?\.?|"
    r"following recipients?(?:\(s\))?:?|to the following (?:recipients|addresses):?|"
    r"could not be delivered to:?|^<(?=[^>\s]+@)|rcpt to:\s*<?|final-recipient:\s*rfc822;|"
    r"original-recipient:\s*rfc822;|user \S+ \()",
    re.I | re.M,
)
_HEADER_LINE = re.compile(r"^\s*(?:message-id|in-reply-to|references|from|reply-to|sender):", re.I)


@dataclass(frozen=True)
class Bounce:
    """A delivery report; ``severity`` None means it reports success (relayed, delivered)."""

    severity: BounceKind | None
    recipients: tuple[str, ...]
    original_ids: tuple[str, ...]
    reason: str


def _originals(msg: Message) -> list[Message]:
    return list(attached_messages(msg))


def _original_ids(msg: Message, text: str, originals: list[Message]) -> tuple[str, ...]:
    found: list[str] = []
    for original in originals:
        found.extend(message_ids(header(original, "Message-ID"))[:1])
    own = set(message_ids(header(msg, "Message-ID")))
    for match in re.finditer(r"^[ \t>]*message-id:\s*(<[^<>\s]+>)", text, re.I | re.M):
        found.append(match.group(1))
    return tuple(dict.fromkeys(mid for mid in found if mid not in own))


def _recipient(fields: Fields) -> list[str]:
    found: list[str] = []
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        for value in fields.get(name, "").split(","):
            candidate = address(typed_value(value))
            if candidate:
                found.append(candidate)
    return found


def _from_dsn(msg: Message, originals: list[Message], text: str) -> Bounce | None:
    parts = report_parts(
        msg, "message/delivery-status", "message/global-delivery-status", "text/delivery-status"
    )
    if not parts:
        return None
    blocks = [block for part in parts for block in field_blocks(part)]
    outcomes: list[tuple[BounceKind | None, str, list[str]]] = []
    for block in blocks:
        action = block.get("action", "").lower()
        if not action and "status" not in block:
            continue
        recipients = _recipient(block)
        if action.startswith(("delivered", "relayed", "expanded")):
            outcomes.append((None, f"DSN {action.split()[0]}", recipients))
            continue
        status = typed_value(block.get("status", ""))
        code_match = re.search(r"[245]\.\d{1,3}\.\d{1,3}", status)
        code = code_match.group(0) if code_match else None
        if code is not None and code.startswith("2"):
            outcomes.append((None, f"DSN {code} delivered", recipients))
            continue
        diagnostic = typed_value(block.get("diagnostic-code", ""))
        delayed = action.startswith("delayed") or "will-retry-until" in block
        judged, reason = judge(diagnostic or text, code=code, delayed=delayed)
        outcomes.append((judged, f"DSN {reason}", recipients))
    if not outcomes:
        return None
    failures = [outcome for outcome in outcomes if outcome[0] is not None]
    chosen = failures or outcomes
    hard = [outcome for outcome in chosen if outcome[0] == "hard"]
    severity, reason, _ = (hard or chosen)[0]
    recipients = [found for outcome in chosen for found in outcome[2]]
    if not recipients and failures:
        recipients = _text_recipients(msg, text, originals)
    return Bounce(
        severity=severity,
        recipients=tuple(dict.fromkeys(recipients)),
        original_ids=_original_ids(msg, text, originals),
        reason=reason,
    )


def _own_addresses(msg: Message, originals: list[Message]) -> set[str]:
    own: set[str] = set()
    for name in ("To", "From", "Return-Path", "Delivered-To", "Sender"):
        for value in headers(msg, name):
            candidate = address(value)
            if candidate:
                own.add(candidate)
    for original in originals:
        for name in ("From", "Sender", "Return-Path", "Reply-To"):
            candidate = address(header(original, name))
            if candidate:
                own.add(candidate)
    return own


def failure_region(text: str) -> str:
    """The part of a bounce's text above the copy of the original message."""
    marker = _COPY_MARKER.search(text)
    return text[: marker.start()] if marker else text


def _text_recipients(msg: Message, text: str, originals: list[Message]) -> list[str]:
    # Exim and Gmail name the failed recipients in a header: nothing to guess.
    failed = [
        found.lower()
        for value in headers(msg, "X-Failed-Recipients")
        for found in find_addresses(value)
    ]
    if failed:
        return list(dict.fromkeys(failed))
    own = _own_addresses(msg, originals)
    region = failure_region(text)
    # Message-IDs look like addresses: drop the lines that carry them.
    lines = [
        line
        for line in region.split("\n")
        if not _HEADER_LINE.match(line) and "message-id" not in line.lower()
    ]
    region = "\n".join(lines)

    def usable(candidate: str) -> bool:
        local = candidate.split("@", 1)[0]
        return candidate not in own and not _DAEMON_LOCAL.match(local)

    led: list[str] = []
    for match in _ADDRESS_LEAD.finditer(region):
        # The window ends at a line break after 300 characters so no address is cut in two.
        end = region.find("\n", match.end() + 300)
        window = region[match.end() : end if end != -1 else len(region)]
        first = next((found for found in find_addresses(window) if usable(found)), None)
        if first:
            led.append(first)
    if led:
        return list(dict.fromkeys(led))
    loose = [found for found in find_addresses(region) if usable(found)]
    if loose:
        return loose[:5]
    for original in originals:
        for value in headers(original, "To"):
            candidate = address(value)
            if candidate and candidate not in own:
                return [candidate]
    return []


def looks_like_bounce(msg: Message, text: str) -> bool:
    """Whether a message without a DSN part is still a delivery failure notice."""
    sender = header(msg, "From")
    sender_address = address(sender) or ""
    daemon = bool(
        _DAEMON_LOCAL.match(sender_address.split("@", 1)[0]) or _DAEMON_NAME.search(sender)
    )
    subject = bool(_SUBJECT.search(header(msg, "Subject")))
    body = bool(_BODY.search(text[:30_000]))
    null_sender = header(msg, "Return-Path").replace(" ", "") == "<>"
    automatic = header(msg, "Auto-Submitted").strip().lower() not in ("", "no")
    if daemon and (subject or body):
        return True
    return body and (subject or null_sender or automatic)


#: Content types a message needs to be read by its headers alone: plain text, or text and
#: its HTML twin. Anything else (a report, a forwarded message, attachments) may hide a
#: delivery or abuse report in its parts.
_PLAIN_TYPES = frozenset({"text/plain", "text/html", "multipart/alternative"})
_REPORT_SUBJECT = re.compile(r"abuse|complaint|spam|feedback|report", re.I)


def may_be_a_report(msg: Message) -> bool:
    """Whether the headers alone (``msg`` may be parsed headers-only) leave open that the
    message is a bounce or a complaint: any content type but plain text, a daemon sender, a
    bounce or abuse subject, a null return path, or an automatic message. False says the
    body need not be read to know it is neither, which is what :func:`looks_like_bounce`
    and the report parsers need to call one."""
    sender = header(msg, "From")
    subject = header(msg, "Subject")
    return (
        msg.get_content_type() not in _PLAIN_TYPES
        or bool(_DAEMON_LOCAL.match((address(sender) or "").split("@", 1)[0]))
        or bool(_DAEMON_NAME.search(sender))
        or bool(_SUBJECT.search(subject) or _REPORT_SUBJECT.search(subject))
        or header(msg, "Return-Path").replace(" ", "") == "<>"
        or header(msg, "Auto-Submitted").strip().lower() not in ("", "no")
    )


def read_bounce(msg: Message, text: str) -> Bounce | None:
    """The delivery report in ``msg`` (``text`` is its readable body), or None if it is not one."""
    originals = _originals(msg)
    dsn = _from_dsn(msg, originals, text)
    if dsn is not None:
        return dsn
    if not looks_like_bounce(msg, text):
        return None
    region = failure_region(text)
    severity, reason = judge(f"{header(msg, 'Subject')}\n{region}")
    return Bounce(
        severity=severity,
        recipients=tuple(_text_recipients(msg, text, originals)),
        original_ids=_original_ids(msg, text, originals),
        reason=reason,
    )

"""Delivery failure notices: RFC 3464 DSNs and the free-text formats MTAs still send.

A DSN names its recipients and codes in a machine-readable part. Older or odd servers
(qmail, Exim, Sendmail, Lotus Domino, GroupWise, Yahoo) only write prose, so for those the
failed addresses come from the prose, above the copy of the original message. A mailing list
that cannot read a bounce forwards it to its owner attached: the attached bounce is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from cadence.inbound.classification.bounce_addresses import (
    dsn_recipients,
    failure_region,
    own_addresses,
    text_recipients,
)
from cadence.inbound.classification.bounce_reasons import Judgement, judge
from cadence.inbound.classification.bounce_signs import looks_like_bounce
from cadence.inbound.classification.mime_text import (
    address,
    attached_messages,
    body_text,
    header,
    message_ids,
)
from cadence.inbound.classification.report_fields import field_blocks, report_parts, typed_value
from cadence.inbound.classification.verdict import BounceKind

_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True)
class Bounce:
    """A delivery report; ``judgement`` None means it reports success (relayed, delivered)."""

    judgement: Judgement | None
    recipients: tuple[str, ...]
    original_ids: tuple[str, ...]
    reason: str

    @property
    def severity(self) -> BounceKind | None:
        return self.judgement.bounce if self.judgement else None


def _original_ids(msg: Message, text: str, originals: list[Message]) -> tuple[str, ...]:
    found: list[str] = []
    for original in originals:
        found.extend(message_ids(header(original, "Message-ID"))[:1])
    own = set(message_ids(header(msg, "Message-ID")))
    for match in re.finditer(r"^[ \t>]*message-id:\s*(<[^<>\s]+>)", text, re.I | re.M):
        found.append(match.group(1))
    return tuple(dict.fromkeys(mid for mid in found if mid not in own))


Outcome = tuple[Judgement | None, str, list[str]]


def _block_outcome(block: dict[str, str], region: str) -> Outcome | None:
    action = block.get("action", "").lower()
    if not action and "status" not in block:
        return None
    recipients = dsn_recipients(block)
    if action.startswith(("delivered", "relayed", "expanded")):
        return None, f"DSN {action.split()[0]}", recipients
    code_match = _STATUS.search(typed_value(block.get("status", "")))
    code = code_match.group(0) if code_match else None
    if code is not None and code.startswith("2"):
        return None, f"DSN {code} delivered", recipients
    diagnostic = typed_value(block.get("diagnostic-code", ""))
    delayed = action.startswith("delayed") or "will-retry-until" in block
    judged = judge(diagnostic or region, code=code, delayed=delayed)
    if judged.reason == "other" and diagnostic:
        # A bare "550 5.0.0" in the fields: the human part may still say why.
        worded = judge(region, code=code, delayed=delayed)
        judged = worded if worded.reason != "other" else judged
    return judged, f"DSN {judged.detail}", recipients


_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status", "text/delivery-status")


def has_delivery_status(msg: Message) -> bool:
    """Whether ``msg`` carries a machine-readable delivery status part (RFC 3464)."""
    return bool(report_parts(msg, *_DSN_TYPES))


def _from_dsn(msg: Message, originals: list[Message], text: str) -> Bounce | None:
    parts = report_parts(msg, *_DSN_TYPES)
    region = failure_region(text)
    outcomes = [
        outcome
        for part in parts
        for block in field_blocks(part)
        if (outcome := _block_outcome(block, region)) is not None
    ]
    if not outcomes:
        return None
    failures = [outcome for outcome in outcomes if outcome[0] is not None]
    chosen = failures or outcomes
    hard = [outcome for outcome in chosen if outcome[0] is not None and outcome[0].bounce == "hard"]
    judgement, reason, _ = (hard or chosen)[0]
    recipients = [found for outcome in chosen for found in outcome[2]]
    if not recipients and failures:
        recipients = text_recipients(msg, text, originals)
    return Bounce(
        judgement=judgement,
        recipients=tuple(dict.fromkeys(recipients)),
        original_ids=_original_ids(msg, text, originals),
        reason=reason,
    )


def _from_text(msg: Message, text: str, originals: list[Message]) -> Bounce:
    judgement = judge(f"{header(msg, 'Subject')}\n{failure_region(text)}")
    return Bounce(
        judgement=judgement,
        recipients=tuple(text_recipients(msg, text, originals)),
        original_ids=_original_ids(msg, text, originals),
        reason=judgement.detail,
    )


def _forwarded(msg: Message, originals: list[Message]) -> Bounce | None:
    """A bounce a mailing list forwards to its owner, attached to the list's own note."""
    for original in originals:
        inner_text = body_text(original)
        if not looks_like_bounce(original, inner_text):
            continue
        inner_originals = list(attached_messages(original))
        inner = _from_dsn(original, inner_originals, inner_text)
        inner = inner or _from_text(original, inner_text, inner_originals)
        lists = own_addresses(msg, []) | {address(header(msg, "List-Post")) or ""}
        recipients = tuple(found for found in inner.recipients if found not in lists)
        return Bounce(inner.judgement, recipients, inner.original_ids, f"forwarded: {inner.reason}")
    return None


def read_bounce(msg: Message, text: str) -> Bounce | None:
    """The delivery report in ``msg`` (``text`` is its readable body), or None if it is not one."""
    originals = list(attached_messages(msg))
    dsn = _from_dsn(msg, originals, text)
    if dsn is not None:
        return dsn
    if looks_like_bounce(msg, text):
        return _from_text(msg, text, originals)
    return _forwarded(msg, originals)

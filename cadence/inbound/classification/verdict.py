"""The value the classifier returns: what an inbound message is, and what it is about."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

Kind = Literal["reply", "auto_reply", "challenge", "bounce", "complaint", "unsubscribe", "unknown"]
BounceKind = Literal["hard", "soft"]


@dataclass(frozen=True)
class Verdict:
    """One inbound message, interpreted.

    ``addresses`` are lowercased: the bounced or complaining recipients for bounces and
    complaints, the sender for replies, auto replies and unsubscribe requests. ``references``
    holds Message-IDs with their angle brackets, most specific first, so the caller can match
    the first one it knows to a touch.
    """

    kind: Kind
    bounce: BounceKind | None = None
    bounce_reason: str | None = None
    rejects_sender: bool = False
    addresses: tuple[str, ...] = ()
    sender: str | None = None
    references: tuple[str, ...] = ()
    return_date: datetime.date | None = None
    reply_text: str | None = None
    reason: str = ""


def unknown(reason: str, *, sender: str | None = None) -> Verdict:
    """A verdict that asks the caller to do nothing but keep the raw message."""
    return Verdict(kind="unknown", sender=sender, reason=reason)

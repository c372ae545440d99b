"""Postmark: the inbound webhook (JSON of a received message) and the bounce, spam
complaint, delivery and subscription webhooks (JSON with a ``RecordType``). Postmark
authenticates with Basic auth in the webhook URL."""

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from cadence.core.domain import EventKind
from cadence.inbound.providers.base import (
    Malformed,
    ProviderEvent,
    address,
    instant,
    obj,
    text,
)
from cadence.inbound.providers.mime import rebuild_message

PROVIDER = "postmark"

#: Postmark's bounce ``Type`` names: these mean the address is gone.
HARD_BOUNCE_TYPES = frozenset({"HardBounce", "BadEmailAddress", "AddressChange"})
#: Not about deliverability (or handled by the classifier when the mail itself arrives).
KEPT_ONLY_TYPES = frozenset(
    {"AutoResponder", "ManuallyDeactivated", "Subscribe", "VirusNotification", "OpenRelayTest"}
)


def is_inbound(payload: dict[str, Any]) -> bool:
    """An inbound message rather than a delivery event (inbound posts carry no RecordType,
    or ``Inbound``)."""
    return text(payload.get("RecordType"), 50) in ("", "Inbound")


def parse_message(payload: dict[str, Any]) -> bytes:
    """``RawEmail`` when the server is set to include it (base64 or plain), else the message
    rebuilt from ``Headers``, ``From``, ``To``, ``Subject``, ``TextBody`` and ``HtmlBody``."""
    raw = payload.get("RawEmail")
    if isinstance(raw, str) and raw.strip():
        return _raw_email(raw)
    if not any(payload.get(k) for k in ("From", "FromFull", "TextBody", "HtmlBody", "Headers")):
        raise Malformed("Postmark inbound JSON without From, body or headers")
    headers = [
        (text(h.get("Name"), 200), text(h.get("Value"), 10000))
        for h in payload.get("Headers") or []
        if isinstance(h, dict)
    ]
    sender = text(payload.get("From"), 500) or text(obj(payload.get("FromFull")).get("Email"))
    postmark_id = text(payload.get("MessageID"), 200)
    defaults = [
        ("From", sender),
        ("To", text(payload.get("To"), 5000)),
        ("Cc", text(payload.get("Cc"), 5000)),
        ("Subject", text(payload.get("Subject"), 2000)),
        ("Date", text(payload.get("Date"), 200)),
        # Postmark's own id keeps the rebuilt message's dedupe stable when there is no header.
        ("Message-ID", f"<{postmark_id}@inbound.postmarkapp.com>" if postmark_id else ""),
    ]
    return rebuild_message(
        headers,
        text=text(payload.get("TextBody"), 20_000_000) or None,
        html=text(payload.get("HtmlBody"), 20_000_000) or None,
        defaults=[d for d in defaults if d[1]],
    )


def _raw_email(raw: str) -> bytes:
    """``RawEmail`` is the message text; some set-ups base64 it."""
    if ":" not in raw[:1000]:
        try:
            return base64.b64decode(raw, validate=False)
        except (binascii.Error, ValueError):
            pass
    return raw.encode("utf-8", "surrogateescape")


def parse_event(payload: dict[str, Any], *, now: datetime) -> ProviderEvent:
    """A bounce (hard for :data:`HARD_BOUNCE_TYPES`, soft otherwise), spam complaint,
    unsubscribe (a SubscriptionChange that suppresses sending), or a record kept only."""
    record = text(payload.get("RecordType"), 50)
    kind_name = text(payload.get("Type"), 50)
    kind = EventKind.UNKNOWN
    if record == "SpamComplaint" or kind_name == "SpamComplaint":
        kind = EventKind.COMPLAINT
    elif record == "Bounce" and kind_name == "Unsubscribe":
        kind = EventKind.UNSUBSCRIBE
    elif record == "Bounce" and kind_name not in KEPT_ONLY_TYPES:
        kind = EventKind.BOUNCE if kind_name in HARD_BOUNCE_TYPES else EventKind.SOFT_BOUNCE
    elif record == "SubscriptionChange" and payload.get("SuppressSending") is True:
        reason = text(payload.get("SuppressionReason"), 50)
        kind = {"HardBounce": EventKind.BOUNCE, "SpamComplaint": EventKind.COMPLAINT}.get(
            reason, EventKind.UNSUBSCRIBE
        )
    recipient = address(payload.get("Email")) or address(payload.get("Recipient"))
    event_id = text(payload.get("ID"), 100)
    if not event_id:
        event_id = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    when = next(
        (
            payload[k]
            for k in ("BouncedAt", "DeliveredAt", "ChangedAt", "ReceivedAt")
            if k in payload
        ),
        None,
    )
    why = text(payload.get("Description")) or text(payload.get("Details"))
    return ProviderEvent(
        provider=PROVIDER,
        kind=kind,
        event_id=f"{record}:{event_id}",
        recipient=recipient,
        occurred_at=instant(when, now),
        reason=f"{record} {kind_name}: {why}".strip() if why else f"{record} {kind_name}".strip(),
        detail={
            "provider_event": record,
            "type": kind_name or None,
            "postmark_message_id": text(payload.get("MessageID"), 200) or None,
        },
    )

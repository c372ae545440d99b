"""SendGrid: Inbound Parse (a multipart form, raw or parsed) and the Event Webhook (a JSON
array of delivery events). Both are protected by Basic auth in the URL configured at
SendGrid (``https://user:password@host/api/v1/inbound/sendgrid``)."""

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
    message_id,
    obj,
    text,
)
from cadence.inbound.providers.formdata import field_text
from cadence.inbound.providers.mime import header_block, rebuild_message

PROVIDER = "sendgrid"

#: JSON values of one Event Webhook batch (a few dozen an event, thousands of events); the
#: sender has passed Basic auth, so the bound is only there to stay finite.
MAX_BATCH_TOKENS = 1_000_000

_EVENT_KINDS = {
    "spamreport": EventKind.COMPLAINT,
    "unsubscribe": EventKind.UNSUBSCRIBE,
    "group_unsubscribe": EventKind.UNSUBSCRIBE,
}


def parse_message(fields: dict[str, bytes]) -> bytes:
    """The received message: the ``email`` field in raw mode ("POST the raw, full MIME
    message"), else rebuilt from ``headers``, ``text`` and ``html`` in their charsets."""
    raw = fields.get("email")
    if raw:
        return raw
    if not any(fields.get(name) for name in ("headers", "from", "text", "html")):
        raise Malformed("SendGrid Inbound Parse post has neither email nor parsed fields")
    try:
        charsets = obj(json.loads(field_text(fields, "charsets") or "{}"))
    except ValueError:
        charsets = {}

    def decoded(name: str) -> str:
        return field_text(fields, name, text(charsets.get(name), 40) or "utf-8")

    plain, html = decoded("text"), decoded("html")
    return rebuild_message(
        header_block(decoded("headers")),
        text=plain or None,
        html=html or None,
        defaults=[
            (name, value)
            for name, value in (
                ("From", decoded("from")),
                ("To", decoded("to")),
                ("Subject", decoded("subject")),
            )
            if value
        ],
    )


def parse_events(payload: Any, *, now: datetime) -> list[ProviderEvent]:
    """The Event Webhook's array. ``bounce`` of type ``blocked`` is a soft bounce, any other
    a hard one; ``spamreport`` and unsubscribes stop; the rest (delivered, deferred,
    dropped, opens) is kept only."""
    if not isinstance(payload, list):
        raise Malformed("SendGrid Event Webhook posts a JSON array")
    events: list[ProviderEvent] = []
    for item in payload:
        if not isinstance(item, dict):
            raise Malformed("SendGrid event is not an object")
        name = text(item.get("event"), 50)
        if name == "bounce":
            blocked = text(item.get("type"), 50) == "blocked"
            kind = EventKind.SOFT_BOUNCE if blocked else EventKind.BOUNCE
        else:
            kind = _EVENT_KINDS.get(name, EventKind.UNKNOWN)
        event_id = (
            text(item.get("sg_event_id"), 200)
            or hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest()
        )
        why = text(item.get("reason")) or text(item.get("response"))
        events.append(
            ProviderEvent(
                provider=PROVIDER,
                kind=kind,
                event_id=event_id,
                recipient=address(item.get("email")),
                message_id=message_id(item.get("smtp-id")),
                occurred_at=instant(item.get("timestamp"), now),
                reason=f"{name}: {why}" if why else name,
                detail={
                    "provider_event": name,
                    "type": text(item.get("type"), 50) or None,
                    "status": text(item.get("status"), 20) or None,
                },
                raw=json.dumps(item, ensure_ascii=False),
            )
        )
    return events

"""Mailgun: inbound routes (a form post of a received message) and event webhooks (JSON).

Both are signed the same way: HMAC-SHA256 of ``timestamp + token`` with the account's
webhook signing key. The body itself is not signed, so the token is single-use
(see :mod:`cadence.inbound.providers.nonces`) and the timestamp must be fresh.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cadence.core.domain import EventKind
from cadence.inbound.providers.base import (
    Forbidden,
    Malformed,
    ProviderEvent,
    address,
    instant,
    message_id,
    obj,
    text,
)
from cadence.inbound.providers.formdata import field_text
from cadence.inbound.providers.mime import rebuild_message
from cadence.inbound.providers.signing import check_fresh, check_hmac

#: JSON values a Mailgun event has at most (its ``event-data`` and ``signature``).
MAX_EVENT_TOKENS = 10_000

PROVIDER = "mailgun"

_EVENT_KINDS = {
    "complained": EventKind.COMPLAINT,
    "unsubscribed": EventKind.UNSUBSCRIBE,
}


@dataclass(frozen=True)
class Signature:
    timestamp: str
    token: str
    signature: str

    def verify(self, signing_key: str | None, *, now: datetime, max_age_seconds: int) -> None:
        """:class:`Forbidden` unless signed with ``signing_key`` and fresh."""
        if not self.token or len(self.token) > 200:
            raise Forbidden("Mailgun token missing or too long")
        check_hmac(signing_key, (self.timestamp + self.token).encode(), self.signature)
        check_fresh(self.timestamp, now=now, max_age_seconds=max_age_seconds)


def route_signature(fields: dict[str, bytes]) -> Signature:
    return Signature(
        timestamp=field_text(fields, "timestamp").strip(),
        token=field_text(fields, "token").strip(),
        signature=field_text(fields, "signature").strip(),
    )


def event_signature(payload: dict[str, Any]) -> Signature:
    signed = payload.get("signature")
    if not isinstance(signed, dict):
        raise Forbidden("Mailgun event without a signature object")
    return Signature(
        timestamp=text(signed.get("timestamp")).strip(),
        token=text(signed.get("token")).strip(),
        signature=text(signed.get("signature")).strip(),
    )


def route_message(fields: dict[str, bytes]) -> bytes:
    """The received message: ``body-mime`` as is (routes whose URL ends in ``mime``),
    else rebuilt from the parsed fields and ``message-headers``."""
    mime = fields.get("body-mime")
    if mime:
        return mime
    headers: list[tuple[str, str]] = []
    try:
        pairs = json.loads(field_text(fields, "message-headers") or "[]")
    except ValueError:
        pairs = []
    if isinstance(pairs, list):
        headers = [
            (str(p[0]), str(p[1])) for p in pairs if isinstance(p, list | tuple) and len(p) == 2
        ]
    plain = field_text(fields, "body-plain")
    html = field_text(fields, "body-html")
    if not (headers or plain or html or fields.get("from") or fields.get("sender")):
        raise Malformed("Mailgun route post has neither body-mime nor message fields")
    defaults = [
        ("From", field_text(fields, "from") or field_text(fields, "sender")),
        ("To", field_text(fields, "To") or field_text(fields, "recipient")),
        ("Subject", field_text(fields, "subject")),
        ("Date", field_text(fields, "Date")),
        ("Message-Id", field_text(fields, "Message-Id")),
        ("In-Reply-To", field_text(fields, "In-Reply-To")),
        ("References", field_text(fields, "References")),
    ]
    return rebuild_message(
        headers, text=plain or None, html=html or None, defaults=[d for d in defaults if d[1]]
    )


def parse_event(payload: dict[str, Any], *, now: datetime) -> ProviderEvent:
    """One ``event-data`` object: ``failed`` (permanent: hard bounce, temporary: soft),
    ``complained``, ``unsubscribed``; anything else (``delivered``, opens) is kept only."""
    data = payload.get("event-data")
    if not isinstance(data, dict):
        raise Malformed("Mailgun event without event-data")
    name = text(data.get("event"), 50)
    severity = text(data.get("severity"), 50)
    if name == "failed":
        kind = EventKind.BOUNCE if severity == "permanent" else EventKind.SOFT_BOUNCE
    else:
        kind = _EVENT_KINDS.get(name, EventKind.UNKNOWN)
    status = obj(data.get("delivery-status"))
    headers = obj(obj(data.get("message")).get("headers"))
    event_id = (
        text(data.get("id"), 200)
        or hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    )
    why = text(status.get("description")) or text(status.get("message")) or text(data.get("reason"))
    return ProviderEvent(
        provider=PROVIDER,
        kind=kind,
        event_id=event_id,
        recipient=address(data.get("recipient")),
        message_id=message_id(headers.get("message-id")),
        occurred_at=instant(data.get("timestamp"), now),
        reason=f"{name} {severity}: {why}".strip(": ") if why else f"{name} {severity}".strip(),
        detail={
            "provider_event": name,
            "severity": severity or None,
            "status_code": text(status.get("code"), 20) or None,
        },
    )

"""``/generic``: signed JSON events from other systems, for example a CRM reporting that a
meeting was booked: ``{"kind", "email", "at", "id"}``. Signed like ``/raw``; the sender's
``id`` makes a resend one event."""

from datetime import UTC, datetime, timedelta
from typing import Any

from cadence.core.domain import EventKind
from cadence.inbound.providers.base import Malformed, ProviderEvent, address, text

PROVIDER = "generic"

KINDS = {
    "meeting": EventKind.MEETING,
    "reply": EventKind.REPLY,
    "unsubscribe": EventKind.UNSUBSCRIBE,
    "bounce": EventKind.BOUNCE,
}
#: A sender's clock may run a little ahead; an event further in the future is an error.
MAX_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(days=3653)


def parse_event(payload: dict[str, Any], *, now: datetime) -> ProviderEvent:
    """:class:`Malformed` (400) names the first field that is wrong.

    ``at`` (ISO 8601 with an offset) defaults to ``now``; ``bounce`` may be ``"soft"`` for
    a bounce that should not stop the sequence at once; ``reason`` is kept for the audit.
    """
    kind = KINDS.get(text(payload.get("kind"), 50))
    if kind is None:
        raise Malformed(f"kind must be one of {', '.join(KINDS)}")
    email = address(payload.get("email"))
    if email is None:
        raise Malformed("email must be an email address")
    event_id = text(payload.get("id"), 201).strip()
    if not event_id or len(event_id) > 200:
        raise Malformed("id must be a unique string of 1 to 200 characters")
    if kind is EventKind.BOUNCE and payload.get("bounce") == "soft":
        kind = EventKind.SOFT_BOUNCE
    at = now
    if payload.get("at") is not None:
        try:
            at = datetime.fromisoformat(text(payload.get("at"), 100).replace("Z", "+00:00"))
        except ValueError:
            raise Malformed("at must be an ISO 8601 date and time") from None
        if at.tzinfo is None:
            raise Malformed("at needs a time zone, for example 2026-11-23T09:00:00+00:00")
        try:
            at = at.astimezone(UTC)
        except OverflowError:
            raise Malformed("at is out of range") from None
        if at - now > MAX_SKEW:
            raise Malformed("at is in the future")
        if now - at > MAX_AGE:
            raise Malformed("at is more than ten years ago")
    reason = text(payload.get("reason"), 300)
    return ProviderEvent(
        provider=PROVIDER,
        kind=kind,
        event_id=event_id,
        recipient=email,
        occurred_at=at,
        reason=reason or f"{kind.value} reported by another system",
        detail={
            "provider_event": text(payload.get("kind"), 50),
            "system": text(payload.get("source"), 100) or None,
        },
    )

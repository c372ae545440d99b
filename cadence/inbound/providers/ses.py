"""Amazon SES notifications delivered by SNS: Bounce, Complaint, Delivery and Received.

Both SES notification styles are read: identity notifications (``notificationType``) and
configuration-set event publishing (``eventType``). The SNS envelope is verified first
(:mod:`cadence.inbound.providers.sns`).
"""

import base64
import binascii
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

PROVIDER = "ses"


def envelope_event(envelope: dict[str, Any], *, now: datetime) -> ProviderEvent:
    """An SNS message other than a notification (a subscription confirmation), kept only."""
    kind = text(envelope.get("Type"), 50)
    return ProviderEvent(
        provider=PROVIDER,
        kind=EventKind.UNKNOWN,
        event_id=f"sns:{text(envelope.get('MessageId'), 200)}",
        occurred_at=instant(envelope.get("Timestamp"), now),
        reason=f"SNS {kind}",
        detail={
            "provider_event": kind,
            "topic": text(envelope.get("TopicArn"), 300),
            "subscribe_url": text(envelope.get("SubscribeURL"), 2000) or None,
        },
    )


def notification(envelope: dict[str, Any], *, now: datetime) -> bytes | list[ProviderEvent]:
    """A received message's MIME (``Received`` with content), or one event per recipient."""
    try:
        message = json.loads(str(envelope.get("Message")))
    except ValueError as error:
        raise Malformed("SNS Message is not the JSON SES sends") from error
    if not isinstance(message, dict):
        raise Malformed("SNS Message is not a JSON object")
    kind = text(message.get("notificationType") or message.get("eventType"), 50)
    mail = obj(message.get("mail"))
    if kind == "Received" and isinstance(message.get("content"), str):
        return _content(message)
    ours = _our_message_id(mail)
    sns_id = text(envelope.get("MessageId"), 200)
    events = _stopping(kind, message, ours, sns_id, now)
    if events:
        return events
    recipients = [
        text(r.get("emailAddress"), 500)
        for r in _list(obj(message.get("delivery")).get("recipients"))
    ] or [""]
    return [
        _event(
            EventKind.UNKNOWN,
            f"{kind.lower() or 'event'}:{text(mail.get('messageId'), 200) or sns_id}:{r}",
            r,
            ours,
            mail.get("timestamp"),
            now,
            kind or "SES notification",
            {"provider_event": kind},
        )
        for r in recipients
    ]


def _stopping(
    kind: str, message: dict[str, Any], ours: str | None, sns_id: str, now: datetime
) -> list[ProviderEvent]:
    """Bounces (Permanent: hard, else soft) and complaints, one per listed recipient."""
    if kind == "Bounce":
        bounce = obj(message.get("bounce"))
        bounce_type = text(bounce.get("bounceType"), 50)
        stop = EventKind.BOUNCE if bounce_type == "Permanent" else EventKind.SOFT_BOUNCE
        return [
            _event(
                stop,
                f"{text(bounce.get('feedbackId'), 200) or sns_id}:{address(r.get('emailAddress'))}",
                r.get("emailAddress"),
                ours,
                bounce.get("timestamp"),
                now,
                f"{bounce_type} {text(bounce.get('bounceSubType'), 50)} bounce: "
                + (text(r.get("diagnosticCode")) or text(r.get("status"), 20)),
                {
                    "provider_event": kind,
                    "bounce_type": bounce_type,
                    "status": text(r.get("status"), 20) or None,
                },
            )
            for r in _list(bounce.get("bouncedRecipients"))
        ]
    if kind == "Complaint":
        complaint = obj(message.get("complaint"))
        feedback = text(complaint.get("complaintFeedbackType"), 50)
        # A "not-spam" report says the opposite of a complaint.
        stop = EventKind.UNKNOWN if feedback == "not-spam" else EventKind.COMPLAINT
        return [
            _event(
                stop,
                f"{text(complaint.get('feedbackId'), 200) or sns_id}:"
                f"{address(r.get('emailAddress'))}",
                r.get("emailAddress"),
                ours,
                complaint.get("timestamp"),
                now,
                f"complaint {feedback}".strip(),
                {"provider_event": kind, "feedback_type": feedback or None},
            )
            for r in _list(complaint.get("complainedRecipients"))
        ]
    return []


def _content(message: dict[str, Any]) -> bytes:
    content = str(message["content"])
    action = obj(obj(message.get("receipt")).get("action"))
    if text(action.get("encoding"), 20).upper() == "BASE64":
        try:
            return base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError) as error:
            raise Malformed("SES content is not base64") from error
    return content.encode("utf-8", "surrogateescape")


def _our_message_id(mail: dict[str, Any]) -> str | None:
    """The Message-ID header of our email (SES's own ``messageId`` is another id)."""
    found = obj(mail.get("commonHeaders")).get("messageId")
    if not found:
        for header in _list(mail.get("headers")):
            if text(header.get("name"), 100).lower() == "message-id":
                found = header.get("value")
    return message_id(found)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, dict) else {"emailAddress": item} for item in value]


def _event(
    kind: EventKind,
    event_id: str,
    recipient: Any,
    ours: str | None,
    when: Any,
    now: datetime,
    reason: str,
    detail: dict[str, Any],
) -> ProviderEvent:
    return ProviderEvent(
        provider=PROVIDER,
        kind=kind,
        event_id=event_id,
        recipient=address(recipient),
        message_id=ours,
        occurred_at=instant(when, now),
        reason=reason.strip(),
        detail=detail,
    )

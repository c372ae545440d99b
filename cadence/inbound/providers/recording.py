"""Store what a provider sent, then apply it: the one place webhooks touch the store.

Structured events are stored with the request's JSON as their raw text and a dedupe key of
``<provider>:<provider's event id>``, so a provider's redelivery is one event. Whole
messages go through :func:`cadence.inbound.processing.process_inbound`, which stores them first.
"""

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from cadence.inbound.processing import process_inbound
from cadence.inbound.providers.base import ProviderEvent
from cadence.inbound.providers.nonces import claim_nonce, release_nonce
from cadence.runtime.context import AppContext
from cadence.sequences.events import record_event
from cadence.store.database import transaction
from cadence.store.models import Event, Prospect, Touch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    """One stored event, as the webhook's response reports it."""

    event_id: int | None
    kind: str
    prospect: str | None
    duplicate: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "prospect": self.prospect,
            "duplicate": self.duplicate,
        }


def dedupe_key(provider: str, event_id: str) -> str:
    key = f"{provider}:{event_id}"
    return (
        key if len(key) <= 200 else f"{provider}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    )


def match(session: Session, event: ProviderEvent) -> Prospect | None:
    """The address the provider reports first (it is the one that bounced or complained),
    then the Message-ID of our email, in case the prospect's address changed since."""
    if event.recipient:
        prospect = session.exec(
            select(Prospect).where(Prospect.email == event.recipient.lower())
        ).first()
        if prospect is not None:
            return prospect
    if event.message_id:
        touch = session.exec(select(Touch).where(Touch.message_id == event.message_id)).first()
        if touch is not None:
            return session.get(Prospect, touch.prospect_id)
    return None


def record_provider_events(
    ctx: AppContext,
    events: Sequence[ProviderEvent],
    *,
    raw: str,
    nonce: tuple[str, str] | None = None,
) -> list[Recorded]:
    """Store and apply ``events`` in one transaction, after claiming ``nonce``
    (provider, value) in the same one: a refused replay leaves the store as it was."""
    now = ctx.clock.now()
    recorded: list[Recorded] = []
    with transaction(ctx.engine) as session:
        if nonce is not None:
            claim_nonce(
                session,
                nonce[0],
                nonce[1],
                now=now,
                max_age_seconds=ctx.settings.webhook_max_age_seconds,
            )
        for event in events:
            prospect = match(session, event)
            outcome = record_event(
                session,
                ctx.catalog,
                kind=event.kind,
                email=prospect.email if prospect else None,
                now=now,
                occurred_at=event.occurred_at,
                source=f"webhook:{event.provider}",
                raw=(event.raw or raw).replace("\x00", "\\u0000"),
                reason=f"{event.provider}: {event.reason}"[:500] if event.reason else None,
                detail={
                    **event.detail,
                    "provider": event.provider,
                    "provider_event_id": event.event_id,
                    "recipient": event.recipient,
                    "message_id": event.message_id,
                    "matched": prospect is not None,
                },
                dedupe_key=dedupe_key(event.provider, event.event_id),
            )
            stored = session.get(Event, outcome.event_id) if outcome.duplicate else None
            recorded.append(
                Recorded(
                    event_id=outcome.event_id,
                    kind=stored.kind if stored is not None else event.kind.value,
                    prospect=outcome.prospect,
                    duplicate=outcome.duplicate,
                )
            )
    return recorded


def record_message(
    ctx: AppContext, raw: bytes, *, provider: str, nonce: str | None = None
) -> Recorded:
    """Classify and apply a whole message; ``nonce`` is claimed first in its own commit and
    given back if the message could not be processed, so the provider may retry."""
    if nonce is not None:
        with transaction(ctx.engine) as session:
            claim_nonce(
                session,
                provider,
                nonce,
                now=ctx.clock.now(),
                max_age_seconds=ctx.settings.webhook_max_age_seconds,
            )
    try:
        result = process_inbound(
            ctx, raw, label=f"webhook:{provider}", source=f"webhook:{provider}"
        )
    except Exception:
        if nonce is not None:
            release_nonce(ctx.engine, provider, nonce)
        raise
    kind = result.kind
    if result.event_id is not None:
        with transaction(ctx.engine) as session:
            stored = session.get(Event, result.event_id)
            kind = stored.kind if stored is not None else kind
    return Recorded(
        event_id=result.event_id,
        kind=kind,
        prospect=result.prospect,
        duplicate=result.duplicate,
    )

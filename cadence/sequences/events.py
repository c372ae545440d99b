"""Recording events and their effects on a prospect's enrollments.

One function serves the CLI, webhooks and the demo, so a reply typed by hand and a reply
parsed from mail halt the same way. Each call is one transaction: the raw event, the state
changes and their audit entries commit together.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, select

from cadence.authoring.catalog import Catalog
from cadence.core.domain import (
    EventKind,
)
from cadence.core.errors import InputError, NotFoundError
from cadence.runtime.context import AppContext
from cadence.sequences.event_effects import EventOutcome, apply_event
from cadence.store.database import transaction
from cadence.store.models import EVENTS, Event, Prospect
from cadence.store.rows import (
    ProspectView,
    prospect_view_by_email,
)


def find_prospect(session: Session, email: str) -> ProspectView:
    prospect = prospect_view_by_email(session, email.strip().lower())
    if prospect is None:
        raise NotFoundError(f"no prospect with email {email!r}")
    return prospect


def store_event(
    session: Session,
    *,
    kind: EventKind,
    prospect: ProspectView | None,
    now: datetime,
    occurred_at: datetime | None = None,
    source: str = "cli",
    actor: str = "system",
    raw: str | None = None,
    detail: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> tuple[Event, bool]:
    """Store an event as it came; returns it and whether it was already stored (by
    ``dedupe_key``), in which case nothing was added."""
    if dedupe_key is not None:
        seen = session.exec(select(Event).where(Event.dedupe_key == dedupe_key)).first()
        if seen is not None:
            return seen, True
    values: dict[str, Any] = {
        "prospect_id": prospect.id if prospect else None,
        "kind": kind.value,
        "source": source,
        "occurred_at": occurred_at or now,
        "recorded_at": now,
        "dedupe_key": dedupe_key,
        "raw": raw,
        "detail": detail or {},
        "actor": actor,
    }
    # A row, not a model added and flushed: the ORM's insert is a large share of a reply's cost.
    # The model returned is not in the session; read it with ``session.get`` to change it.
    event_id = session.connection().execute(_INSERT_EVENT, values).scalar_one()
    return Event(id=event_id, **values), False


_INSERT_EVENT = insert(EVENTS).returning(EVENTS.c.id)


def record_event(
    session: Session,
    catalog: Catalog,
    *,
    kind: EventKind,
    email: str | None,
    now: datetime,
    occurred_at: datetime | None = None,
    source: str = "cli",
    actor: str = "system",
    cadence: str | None = None,
    reason: str | None = None,
    raw: str | None = None,
    detail: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    resume_at: datetime | None = None,
) -> EventOutcome:
    """Store the event and apply it in the caller's transaction. ``now`` is the commit-side
    clock; ``occurred_at`` is when it happened (defaults to ``now``). A repeated
    ``dedupe_key`` changes nothing.

    ``email`` None stores an unmatched event for a person to review, with no effect.
    ``resume_at`` (auto-replies) is when a paused enrollment picks up again.
    """
    if cadence is not None:
        catalog.cadence(cadence)
    prospect = find_prospect(session, email) if email is not None else None
    event, duplicate = store_event(
        session,
        kind=kind,
        prospect=prospect,
        now=now,
        occurred_at=occurred_at,
        source=source,
        actor=actor,
        raw=raw,
        detail=detail,
        dedupe_key=dedupe_key,
    )
    if duplicate:
        return EventOutcome(event.id, kind, prospect.email if prospect else None, duplicate=True)
    if prospect is None or kind is EventKind.UNKNOWN:
        return EventOutcome(event.id, kind, prospect.email if prospect else None)
    return apply_event(
        session,
        catalog,
        event,
        prospect,
        now=now,
        actor=actor,
        cadence=cadence,
        reason=reason,
        resume_at=resume_at,
    )


def apply_stored_event(
    session: Session,
    catalog: Catalog,
    event_id: int,
    *,
    now: datetime,
    reason: str | None = None,
    resume_at: datetime | None = None,
) -> EventOutcome:
    """Apply an event stored earlier (its own transaction committed the raw item first)."""
    event = session.get(Event, event_id)
    if event is None:
        raise NotFoundError(f"no event {event_id}")
    prospect = session.get(Prospect, event.prospect_id) if event.prospect_id else None
    kind = EventKind(event.kind)
    if prospect is None or kind is EventKind.UNKNOWN:
        return EventOutcome(event.id, kind, prospect.email if prospect else None)
    return apply_event(
        session,
        catalog,
        event,
        prospect,
        now=now,
        actor=event.actor,
        reason=reason,
        resume_at=resume_at,
    )


def record_by_hand(
    ctx: AppContext,
    kind: EventKind,
    email: str,
    *,
    occurred_at: datetime | None = None,
    actor: str = "system",
    source: str = "cli",
    cadence: str | None = None,
    reason: str | None = None,
) -> EventOutcome:
    """Record an event by hand, with the same effects as an inbound one."""
    if occurred_at is not None and occurred_at.tzinfo is None:
        raise InputError("--at needs a time zone, for example 2026-11-23T09:00:00+00:00")
    with transaction(ctx.engine) as session:
        return record_event(
            session,
            ctx.catalog,
            kind=kind,
            email=email,
            now=ctx.clock.now(),
            occurred_at=occurred_at,
            actor=actor,
            source=source,
            cadence=cadence,
            reason=reason,
        )

"""Recording events and their effects on a prospect's enrollments.

One function serves the CLI, webhooks and the demo, so a reply typed by hand and a reply
parsed from mail halt the same way. Each call is one transaction: the raw event, the state
changes and their audit entries commit together.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlmodel import Session, col, func, select

from cadence.authoring.catalog import Catalog
from cadence.core.domain import (
    LIVE_ENROLLMENT_STATES,
    STOPPING_EVENTS,
    Delay,
    EnrollmentState,
    EventKind,
    ReplyPolicy,
    TouchStatus,
)
from cadence.core.errors import InputError, NotFoundError
from cadence.core.planning import plan_step
from cadence.runtime.context import AppContext
from cadence.sequences.halting import halt_enrollments, lock_live_enrollments
from cadence.store.audit_log import audit_row, record_audits
from cadence.store.database import transaction
from cadence.store.models import EVENTS, PROSPECTS, Enrollment, Event, Prospect, Touch
from cadence.store.rows import (
    EnrollmentView,
    ProspectView,
    expire_loaded,
    model_of,
    prospect_view_by_email,
)
from cadence.store.suppressions import suppress
from cadence.store.transitions import move_enrollment

#: Soft bounces (mailbox full, greylisting) tolerated before the address counts as dead.
SOFT_BOUNCE_LIMIT = 3


@dataclass
class EventOutcome:
    event_id: int | None
    kind: EventKind
    prospect: str | None
    duplicate: bool = False
    halted: list[int] = field(default_factory=list)
    paused: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)
    suppressed: bool = False


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
    # A row, not a model added and flushed: the ORM's insert was a third of a reply's cost.
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


def apply_event(
    session: Session,
    catalog: Catalog,
    event: Event,
    prospect: ProspectView,
    *,
    now: datetime,
    actor: str,
    cadence: str | None = None,
    reason: str | None = None,
    resume_at: datetime | None = None,
) -> EventOutcome:
    """The event's effect on the prospect's enrollments, with an audit entry."""
    assert prospect.id is not None
    kind = EventKind(event.kind)
    outcome = EventOutcome(event.id, kind, prospect.email)
    why = reason or f"{kind.value} recorded" + (f" by {actor}" if actor != "system" else "")
    event_entry = audit_row(
        at=now,
        actor=actor,
        action=f"event:{kind.value}",
        prospect_id=prospect.id,
        reason=why,
        after=json.dumps({"event_id": event.id, "source": event.source}),
    )
    # A halting event's entry is written with the halts' entries, one statement for all:
    # a reply waits on every round trip, and on a busy machine each costs milliseconds.
    halting = kind in STOPPING_EVENTS or kind is EventKind.HALT
    if not halting:
        record_audits(session, [event_entry])
    # A reply locks every live enrollment at the company (in one id order, so colleagues
    # replying at once cannot deadlock) only when some cadence pauses colleagues on a reply;
    # decided from the catalog alone, so the lock order never depends on what a read saw.
    account = (
        _lock_account(session, prospect)
        if kind is EventKind.REPLY and catalog.pauses_accounts
        else []
    )
    enrollments: Sequence[EnrollmentView]
    if account:
        enrollments = [e for e in account if e.prospect_id == prospect.id]
    else:
        enrollments = lock_live_enrollments(session, prospect.id)
    if cadence is not None:
        enrollments = [e for e in enrollments if e.cadence == cadence]
    if kind is EventKind.SOFT_BOUNCE:
        soft = session.exec(
            select(func.count())
            .select_from(Event)
            .where(Event.prospect_id == prospect.id, Event.kind == EventKind.SOFT_BOUNCE)
        ).one()
        if soft < SOFT_BOUNCE_LIMIT:
            return outcome
        kind = EventKind.BOUNCE
        why = f"{soft} soft bounces in a row"
    if kind in STOPPING_EVENTS or kind is EventKind.HALT:
        if kind is EventKind.HALT and not enrollments:
            raise InputError(f"{prospect.email} has no active or paused enrollment to halt")
        halt_enrollments(
            session,
            enrollments,
            reason=why,
            now=now,
            actor=actor,
            first_entries=[event_entry] if halting else [],
        )
        outcome.halted.extend(_id(e) for e in enrollments)
        if kind in (EventKind.UNSUBSCRIBE, EventKind.COMPLAINT, EventKind.BOUNCE):
            if kind is EventKind.BOUNCE:
                session.flush()  # a loaded model's changes first: it is expired below
                session.connection().execute(
                    _MARK_INVALID, {"prospect_id": prospect.id, "now": now}
                )
                expire_loaded(session, Prospect, [prospect.id])
            outcome.suppressed = suppress(
                session,
                prospect.email,
                reason=why,
                now=now,
                actor=actor,
                prospect_id=prospect.id,
            )
        if kind is EventKind.REPLY:
            outcome.paused.extend(
                _pause_colleagues(session, catalog, prospect, enrollments, account, now)
            )
    elif kind in (EventKind.PAUSE, EventKind.AUTO_REPLY):
        active = [e for e in enrollments if e.state == EnrollmentState.ACTIVE]
        if kind is EventKind.PAUSE and not active:
            raise InputError(f"{prospect.email} has no active enrollment to pause")
        for enrollment in (model_of(session, Enrollment, e.id) for e in active):
            move_enrollment(
                session, enrollment, EnrollmentState.PAUSED, reason=why, now=now, actor=actor
            )
            enrollment.resume_at = resume_at
            outcome.paused.append(_id(enrollment))
    elif kind is EventKind.RESUME:
        paused = [e for e in enrollments if e.state == EnrollmentState.PAUSED]
        if not paused:
            raise InputError(f"{prospect.email} has no paused enrollment to resume")
        for enrollment in (model_of(session, Enrollment, e.id) for e in paused):
            resume_enrollment(
                session, catalog, enrollment, prospect, now=now, actor=actor, reason=why
            )
            outcome.resumed.append(_id(enrollment))
    return outcome


_MARK_INVALID = (
    update(PROSPECTS)
    .where(PROSPECTS.c.id == bindparam("prospect_id"))
    .values(email_status="invalid", updated_at=bindparam("now"))
)


def _lock_account(session: Session, prospect: ProspectView) -> list[Enrollment]:
    """Every live enrollment at the prospect's company, locked in id order in one statement,
    so two colleagues replying at once cannot deadlock each other."""
    if not prospect.company.strip():
        return []
    return list(
        session.exec(
            select(Enrollment)
            .join(Prospect, col(Prospect.id) == col(Enrollment.prospect_id))
            .where(
                Prospect.company == prospect.company,
                col(Enrollment.state).in_([s.value for s in LIVE_ENROLLMENT_STATES]),
            )
            .order_by(col(Enrollment.id))
            .with_for_update(of=Enrollment)
        )
    )


def _id(enrollment: EnrollmentView) -> int:
    assert enrollment.id is not None
    return enrollment.id


def _pause_colleagues(
    session: Session,
    catalog: Catalog,
    prospect: ProspectView,
    halted: Sequence[EnrollmentView],
    account: list[Enrollment],
    now: datetime,
) -> list[int]:
    """Under ``on_reply = "halt_account"``, pause colleagues at the same company."""
    policies = {
        catalog.cadences[e.cadence].on_reply for e in halted if e.cadence in catalog.cadences
    }
    if ReplyPolicy.HALT_ACCOUNT not in policies:
        return []
    colleagues = [
        e for e in account if e.prospect_id != prospect.id and e.state == EnrollmentState.ACTIVE
    ]
    why = f"colleague {prospect.email} at {prospect.company} replied"
    for enrollment in colleagues:
        move_enrollment(
            session, enrollment, EnrollmentState.PAUSED, reason=why, now=now, actor="system"
        )
    return [_id(e) for e in colleagues]


def resume_enrollment(
    session: Session,
    catalog: Catalog,
    enrollment: Enrollment,
    prospect: ProspectView,
    *,
    now: datetime,
    actor: str,
    reason: str,
) -> None:
    """Reactivate and move the pending touch to the next open slot from ``now``.

    A touch that failed to render (nothing was sent) is scheduled again, so a fixed template
    is picked up; touches in any other state are left alone.
    """
    move_enrollment(
        session, enrollment, EnrollmentState.ACTIVE, reason=reason, now=now, actor=actor
    )
    enrollment.resume_at = None
    cadence = catalog.cadence(enrollment.cadence)
    pending = session.exec(
        select(Touch)
        .where(
            Touch.enrollment_id == enrollment.id,
            col(Touch.status).in_([TouchStatus.SCHEDULED, TouchStatus.QUEUED, TouchStatus.FAILED]),
        )
        .order_by(col(Touch.step).desc())
    ).first()
    if pending is None:
        return
    step = replace(cadence.step(pending.step), delay=Delay())
    resumed_due = plan_step(cadence=cadence, step=step, prospect=prospect, anchor=now)
    pending.due_at = max(pending.due_at, resumed_due)
    if pending.status == TouchStatus.FAILED:
        pending.attempts = 0  # a person looked at it: give it a fresh set of tries
    pending.status = TouchStatus.SCHEDULED
    pending.reason = None
    session.add(pending)


def record(
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

"""What an event does to a prospect's enrollments, one effect per event kind (:data:`EFFECTS`):
stopping events halt them (and suppress the address where it is dead or unwilling), a pause
or an out-of-office pauses them, a resume resumes them."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
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
from cadence.core.errors import InputError
from cadence.core.planning import plan_step
from cadence.sequences.halting import halt_enrollments, lock_live_enrollments
from cadence.sequences.mailbox_guard import count_event
from cadence.store.audit_log import audit_row, record_audits
from cadence.store.models import PROSPECTS, Enrollment, Event, Prospect, Touch
from cadence.store.rows import (
    EnrollmentView,
    ProspectView,
    expire_loaded,
    model_of,
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


@dataclass
class _Happening:
    """An event being applied: what its effect reads and where it writes its results."""

    session: Session
    catalog: Catalog
    kind: EventKind
    prospect: ProspectView
    enrollments: Sequence[EnrollmentView]
    #: Every live enrollment at the prospect's company, locked, when a reply may pause them.
    account: list[Enrollment]
    outcome: EventOutcome
    why: str
    event_entry: dict[str, Any]
    now: datetime
    actor: str
    resume_at: datetime | None


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
    if EFFECTS.get(kind) is not _halt:
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
    effect = EFFECTS.get(kind)
    if effect is not None:
        effect(
            _Happening(
                session, catalog, kind, prospect, enrollments, account, outcome, why,
                event_entry, now, actor, resume_at,
            )
        )  # fmt: skip
    return outcome


def _halt(happening: _Happening) -> None:
    """Stop every live enrollment: nothing more is sent to the prospect. A dead address,
    an unsubscribe or a complaint is suppressed too; a reply may pause colleagues."""
    h = happening
    assert h.prospect.id is not None
    if h.kind is EventKind.HALT and not h.enrollments:
        raise InputError(f"{h.prospect.email} has no active or paused enrollment to halt")
    halt_enrollments(
        h.session,
        h.enrollments,
        reason=h.why,
        now=h.now,
        actor=h.actor,
        first_entries=[h.event_entry] if EFFECTS.get(h.outcome.kind) is _halt else [],
    )
    h.outcome.halted.extend(_id(e) for e in h.enrollments)
    # The kind recorded, not the one applied: a third soft bounce halts as a bounce but is
    # no hard bounce of the mailbox's.
    count_event(h.session, h.prospect.id, h.outcome.kind, now=h.now)
    if h.kind in (EventKind.UNSUBSCRIBE, EventKind.COMPLAINT, EventKind.BOUNCE):
        if h.kind is EventKind.BOUNCE:
            h.session.flush()  # a loaded model's changes first: it is expired below
            h.session.connection().execute(
                _MARK_INVALID, {"prospect_id": h.prospect.id, "now": h.now}
            )
            expire_loaded(h.session, Prospect, [h.prospect.id])
        h.outcome.suppressed = suppress(
            h.session,
            h.prospect.email,
            reason=h.why,
            now=h.now,
            actor=h.actor,
            prospect_id=h.prospect.id,
        )
    if h.kind is EventKind.REPLY:
        h.outcome.paused.extend(
            _pause_colleagues(h.session, h.catalog, h.prospect, h.enrollments, h.account, h.now)
        )


def _soft_bounce(happening: _Happening) -> None:
    """A full mailbox or greylisting: tolerated until :data:`SOFT_BOUNCE_LIMIT` of them."""
    h = happening
    soft = h.session.exec(
        select(func.count())
        .select_from(Event)
        .where(Event.prospect_id == h.prospect.id, Event.kind == EventKind.SOFT_BOUNCE)
    ).one()
    if soft >= SOFT_BOUNCE_LIMIT:
        _halt(replace(h, kind=EventKind.BOUNCE, why=f"{soft} soft bounces in a row"))


def _pause(happening: _Happening) -> None:
    """Pause the active enrollments; an out-of-office until its return date, if found."""
    h = happening
    active = [e for e in h.enrollments if e.state == EnrollmentState.ACTIVE]
    if h.kind is EventKind.PAUSE and not active:
        raise InputError(f"{h.prospect.email} has no active enrollment to pause")
    for enrollment in (model_of(h.session, Enrollment, e.id) for e in active):
        move_enrollment(
            h.session, enrollment, EnrollmentState.PAUSED, reason=h.why, now=h.now, actor=h.actor
        )
        enrollment.resume_at = h.resume_at
        h.outcome.paused.append(_id(enrollment))


def _resume(happening: _Happening) -> None:
    h = happening
    paused = [e for e in h.enrollments if e.state == EnrollmentState.PAUSED]
    if not paused:
        raise InputError(f"{h.prospect.email} has no paused enrollment to resume")
    for enrollment in (model_of(h.session, Enrollment, e.id) for e in paused):
        resume_enrollment(
            h.session, h.catalog, enrollment, h.prospect, now=h.now, actor=h.actor, reason=h.why
        )
        h.outcome.resumed.append(_id(enrollment))


def _count_against_mailbox(happening: _Happening) -> None:
    """A receiving server refused us, not the address: the prospect's sequences go on, and
    the mailbox that sent is counted for the deliverability guard."""
    h = happening
    assert h.prospect.id is not None
    count_event(h.session, h.prospect.id, h.kind, now=h.now)


#: Each event kind's effect; a kind not here (unknown mail) is only stored and audited.
EFFECTS: dict[EventKind, Callable[[_Happening], None]] = {
    **dict.fromkeys((*STOPPING_EVENTS, EventKind.HALT), _halt),
    EventKind.SOFT_BOUNCE: _soft_bounce,
    EventKind.SENDER_REJECTED: _count_against_mailbox,
    EventKind.PAUSE: _pause,
    EventKind.AUTO_REPLY: _pause,
    EventKind.RESUME: _resume,
}


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

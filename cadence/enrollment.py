"""Enrolling prospects in cadences and planning each next touch."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cadence.audit_log import record_audit
from cadence.business_calendar import BusinessCalendar
from cadence.catalog import Catalog
from cadence.domain import (
    LIVE_ENROLLMENT_STATES,
    CadenceDefinition,
    EnrollmentState,
    EventKind,
    Stage,
    Step,
    TouchStatus,
)
from cadence.errors import ConflictError, InputError
from cadence.models import TOUCHES, Enrollment, Event, Prospect, Task, Touch
from cadence.scheduling import plan_due_at
from cadence.store_views import ProspectView, TouchView
from cadence.suppressions import suppression_reason
from cadence.transitions import move_enrollment


def plan_step(
    *, cadence: CadenceDefinition, step: Step, prospect: ProspectView, anchor: datetime
) -> datetime:
    """The due time of ``step`` for ``prospect``, counted from ``anchor``."""
    return plan_due_at(
        anchor=anchor,
        step=step,
        cadence=cadence,
        zone=ZoneInfo(prospect.timezone),
        calendar=BusinessCalendar(prospect.country),
        jitter_key=f"{prospect.email}:{cadence.name}:{step.number}",
    )


def why_not_contactable(session: Session, prospect: ProspectView) -> str | None:
    return contact_block(prospect) or suppression_reason(session, prospect.email)


def contact_block(prospect: ProspectView) -> str | None:
    """What the prospect's own row forbids; suppressions are checked on top of it."""
    if prospect.do_not_contact:
        return "marked do-not-contact"
    if prospect.email_status != "valid":
        return f"address is {prospect.email_status}"
    return None


def live_enrollments(session: Session, prospect_id: int, *, lock: bool = False) -> list[Enrollment]:
    query = (
        select(Enrollment)
        .where(
            Enrollment.prospect_id == prospect_id,
            col(Enrollment.state).in_([s.value for s in LIVE_ENROLLMENT_STATES]),
        )
        .order_by(col(Enrollment.id))
    )
    if lock:
        query = query.with_for_update()
    return list(session.exec(query))


def start_enrollment(
    session: Session,
    *,
    prospect: ProspectView,
    cadence: CadenceDefinition,
    owner: str,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> Enrollment:
    """Create the enrollment and its first touch in the caller's transaction."""
    assert prospect.id is not None
    enrollment = Enrollment(
        prospect_id=prospect.id,
        cadence=cadence.name,
        owner=owner,
        state=EnrollmentState.ACTIVE,
        enrolled_at=now,
        updated_at=now,
    )
    session.add(enrollment)
    session.flush()
    assert enrollment.id is not None
    first = cadence.steps[0]
    session.add(
        Touch(
            enrollment_id=enrollment.id,
            prospect_id=prospect.id,
            step=1,
            channel=first.channel,
            template=first.template_for(f"{enrollment.id}:{first.number}"),
            due_at=plan_step(cadence=cadence, step=first, prospect=prospect, anchor=now),
        )
    )
    record_audit(
        session,
        at=now,
        actor=actor,
        action="enrolled",
        prospect_id=prospect.id,
        enrollment_id=enrollment.id,
        after=f"{cadence.name}:active",
        reason=reason,
    )
    return enrollment


@dataclass(frozen=True)
class EnrollResult:
    cadence: str
    enrolled: tuple[str, ...]
    already_active: tuple[str, ...] = ()


#: After these the prospect is a conversation, not a sequence.
CONVERSATION_EVENTS = (EventKind.REPLY, EventKind.MEETING)


def enroll(
    session: Session,
    catalog: Catalog,
    *,
    emails: Sequence[str],
    cadence_name: str,
    owner: str | None,
    now: datetime,
    actor: str,
    allow_replied: bool = False,
) -> EnrollResult:
    """Enroll the addresses; a prospect already live in the cadence is reported and left
    alone (never enrolled twice). Any other problem enrolls nobody and raises
    :class:`InputError` listing them all."""
    cadence = catalog.cadence(cadence_name)
    if owner is not None:
        catalog.team.sender(owner)
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    if not wanted:
        raise InputError("no prospects to enroll: give --email or --csv")
    found = {
        p.email: p for p in session.exec(select(Prospect).where(col(Prospect.email).in_(wanted)))
    }
    replied = _conversations(session, [p.id for p in found.values() if p.id is not None])
    problems = []
    already: list[str] = []
    for email in wanted:
        prospect = found.get(email)
        if prospect is None:
            problems.append(
                f"{email}: unknown prospect; import it first (cadence prospects import)"
            )
            continue
        assert prospect.id is not None
        blocked = why_not_contactable(session, prospect)
        if blocked:
            problems.append(f"{email}: cannot be contacted: {blocked}")
        if prospect.id in replied and not allow_replied:
            kind, at = replied[prospect.id]
            problems.append(
                f"{email}: {kind} on {at:%Y-%m-%d}: a conversation now, not a sequence "
                "(pass --allow-replied to enroll anyway)"
            )
        if cadence.min_stage and Stage(prospect.stage).rank < cadence.min_stage.rank:
            problems.append(
                f"{email}: stage {prospect.stage} is below {cadence.name}'s minimum "
                f"{cadence.min_stage}"
            )
        if any(e.cadence == cadence.name for e in live_enrollments(session, prospect.id)):
            already.append(email)
    if problems:
        raise InputError("nothing enrolled:\n" + "\n".join(problems))
    fresh = [email for email in wanted if email not in already]
    for email in fresh:
        prospect = found[email]
        start_enrollment(
            session,
            prospect=prospect,
            cadence=cadence,
            owner=owner or prospect.owner,
            now=now,
            actor=actor,
        )
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "another enrollment of the same prospect in this cadence was made at the same "
            "time; nothing enrolled, try again"
        ) from exc
    return EnrollResult(cadence=cadence.name, enrolled=tuple(fresh), already_active=tuple(already))


def _conversations(session: Session, prospect_ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """The first reply or meeting of each prospect that has one."""
    found: dict[int, tuple[str, datetime]] = {}
    if not prospect_ids:
        return found
    rows = session.exec(
        select(Event.prospect_id, Event.kind, Event.occurred_at)
        .where(
            col(Event.prospect_id).in_(prospect_ids),
            col(Event.kind).in_([k.value for k in CONVERSATION_EVENTS]),
        )
        .order_by(col(Event.occurred_at))
    ).all()
    for prospect_id, kind, at in rows:
        if prospect_id is not None:
            found.setdefault(prospect_id, (kind, at))
    return found


def advance(
    session: Session,
    catalog: Catalog,
    *,
    enrollment: Enrollment,
    prospect: ProspectView,
    done: TouchView,
    now: datetime,
) -> Touch | None:
    """After ``done`` finished, plan the next step or complete the enrollment.

    A task step does not hold the cadence back: the next step counts from the task's due time;
    an email's next step counts from when it was sent.
    """
    # A pause that lands while a touch is sending must not lose the rest of the cadence:
    # the next touch is planned, and waits for the resume like any other.
    if enrollment.state not in LIVE_ENROLLMENT_STATES:
        return None
    cadence = catalog.cadence(enrollment.cadence)
    assert enrollment.id is not None and prospect.id is not None
    anchor = done.due_at if done.channel != "email" or done.sent_at is None else done.sent_at
    planned = next_touch(
        cadence, enrollment_id=enrollment.id, prospect=prospect, done_step=done.step, anchor=anchor
    )
    if planned is not None:
        touch = Touch(**planned)
        session.add(touch)
        return touch
    move_enrollment(
        session, enrollment, EnrollmentState.COMPLETED, reason="all steps done, no reply", now=now
    )
    if cadence.on_complete and why_not_contactable(session, prospect) is None:
        session.flush()
        if not any(
            e.cadence == cadence.on_complete for e in live_enrollments(session, prospect.id)
        ):
            start_enrollment(
                session,
                prospect=prospect,
                cadence=catalog.cadence(cadence.on_complete),
                owner=enrollment.owner,
                now=now,
                actor="system",
                reason=f"handed over from {cadence.name} with no reply",
            )
    return None


#: Inserts :func:`next_touch`'s columns, one row or a batch (executemany).
INSERT_TOUCH = insert(TOUCHES)


def next_touch(
    cadence: CadenceDefinition,
    *,
    enrollment_id: int,
    prospect: ProspectView,
    done_step: int,
    anchor: datetime,
) -> dict[str, Any] | None:
    """The columns of the touch of the step after ``done_step``, due counted from
    ``anchor``; None after the last step. Columns, not a Touch: a worker inserts a batch of
    them with one executemany (building model objects cost more than planning them)."""
    if done_step >= len(cadence.steps):
        return None
    assert prospect.id is not None
    step = cadence.step(done_step + 1)
    return {
        "enrollment_id": enrollment_id,
        "prospect_id": prospect.id,
        "step": step.number,
        "channel": step.channel.value,
        "template": step.template_for(f"{enrollment_id}:{step.number}"),
        "due_at": plan_step(cadence=cadence, step=step, prospect=prospect, anchor=anchor),
        "status": TouchStatus.SCHEDULED.value,
        "attempts": 0,
        "enqueues": 0,
    }


def cancel_pending_touches(session: Session, enrollment_id: int, *, reason: str) -> int:
    """Cancel touches that have not started delivery, and the SDR's open tasks of this
    enrollment (nobody should call a prospect who replied or unsubscribed)."""
    open_tasks = session.exec(
        select(Task)
        .join(Touch, col(Touch.id) == col(Task.touch_id))
        .where(Touch.enrollment_id == enrollment_id, Task.status == "open")
    ).all()
    for task in open_tasks:
        task.status = "cancelled"
        task.outcome = reason[:200]
        session.add(task)
    pending = session.exec(
        select(Touch).where(
            Touch.enrollment_id == enrollment_id,
            col(Touch.status).in_([TouchStatus.SCHEDULED, TouchStatus.QUEUED]),
        )
    ).all()
    for touch in pending:
        touch.status = TouchStatus.CANCELLED
        touch.reason = reason
        session.add(touch)
    return len(pending)

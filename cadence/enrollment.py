"""Enrolling prospects in cadences and planning each next touch."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cadence.audit_log import record_audit
from cadence.business_calendar import BusinessCalendar
from cadence.catalog import Catalog
from cadence.domain import (
    LIVE_ENROLLMENT_STATES,
    CadenceDefinition,
    EnrollmentState,
    Stage,
    Step,
    TouchStatus,
)
from cadence.errors import ConflictError, InputError
from cadence.models import Enrollment, Prospect, Touch
from cadence.scheduling import plan_due_at
from cadence.suppressions import suppression_reason


def plan_step(
    *, cadence: CadenceDefinition, step: Step, prospect: Prospect, anchor: datetime
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


def why_not_contactable(session: Session, prospect: Prospect) -> str | None:
    if prospect.do_not_contact:
        return "marked do-not-contact"
    if prospect.email_status != "valid":
        return f"address is {prospect.email_status}"
    return suppression_reason(session, prospect.email)


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
    prospect: Prospect,
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


def enroll(
    session: Session,
    catalog: Catalog,
    *,
    emails: Sequence[str],
    cadence_name: str,
    owner: str | None,
    now: datetime,
    actor: str,
) -> EnrollResult:
    """Enroll every address or none: any problem raises :class:`InputError` listing them all."""
    cadence = catalog.cadence(cadence_name)
    if owner is not None:
        catalog.team.sender(owner)
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    if not wanted:
        raise InputError("no prospects to enroll: give --email or --csv")
    found = {
        p.email: p for p in session.exec(select(Prospect).where(col(Prospect.email).in_(wanted)))
    }
    problems = []
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
        if cadence.min_stage and Stage(prospect.stage).rank < cadence.min_stage.rank:
            problems.append(
                f"{email}: stage {prospect.stage} is below {cadence.name}'s minimum "
                f"{cadence.min_stage}"
            )
        for existing in live_enrollments(session, prospect.id):
            if existing.cadence == cadence.name:
                problems.append(
                    f"{email}: already {existing.state} in {cadence.name} "
                    f"(enrollment {existing.id}); not enrolled twice"
                )
    if problems:
        raise InputError("nothing enrolled:\n" + "\n".join(problems))
    for email in wanted:
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
    return EnrollResult(cadence=cadence.name, enrolled=tuple(wanted))


def advance(
    session: Session,
    catalog: Catalog,
    *,
    enrollment: Enrollment,
    prospect: Prospect,
    done: Touch,
    now: datetime,
) -> Touch | None:
    """After ``done`` finished, plan the next step or complete the enrollment.

    A task step does not hold the cadence back: the next step counts from the task's due time;
    an email's next step counts from when it was sent.
    """
    if enrollment.state != EnrollmentState.ACTIVE:
        return None
    cadence = catalog.cadence(enrollment.cadence)
    assert enrollment.id is not None and prospect.id is not None
    if done.step < len(cadence.steps):
        step = cadence.step(done.step + 1)
        anchor = done.due_at if done.channel != "email" or done.sent_at is None else done.sent_at
        touch = Touch(
            enrollment_id=enrollment.id,
            prospect_id=prospect.id,
            step=step.number,
            channel=step.channel,
            template=step.template_for(f"{enrollment.id}:{step.number}"),
            due_at=plan_step(cadence=cadence, step=step, prospect=prospect, anchor=anchor),
        )
        session.add(touch)
        return touch
    enrollment.state = EnrollmentState.COMPLETED
    enrollment.reason = "all steps done, no reply"
    enrollment.updated_at = now
    session.add(enrollment)
    record_audit(
        session,
        at=now,
        action="completed",
        prospect_id=prospect.id,
        enrollment_id=enrollment.id,
        before="active",
        after="completed",
        reason=enrollment.reason,
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


def cancel_pending_touches(session: Session, enrollment_id: int, *, reason: str) -> int:
    """Cancel touches that have not started delivery; returns how many."""
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

"""Enrolling prospects in cadences and planning each next touch."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cadence.authoring.catalog import Catalog
from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import (
    LIVE_ENROLLMENT_STATES,
    CadenceDefinition,
    EnrollmentState,
    EventKind,
    Stage,
    Step,
    TouchStatus,
)
from cadence.core.errors import ConflictError, InputError
from cadence.core.geography import time_zone
from cadence.core.scheduling import plan_due_at
from cadence.runtime.context import AppContext
from cadence.store.audit_log import SYSTEM, audit_row, record_audits
from cadence.store.database import transaction
from cadence.store.models import (
    ENROLLMENTS,
    TASKS,
    TOUCHES,
    Enrollment,
    Event,
    Prospect,
    Task,
    Touch,
)
from cadence.store.rows import (
    ENROLLMENT_VIEW_COLUMNS,
    EnrollmentView,
    ProspectView,
    TouchView,
    expire_loaded,
)
from cadence.store.sql_lists import in_list
from cadence.store.suppressions import suppression_reasons
from cadence.store.transitions import enrollment_moved


def plan_step(
    *, cadence: CadenceDefinition, step: Step, prospect: ProspectView, anchor: datetime
) -> datetime:
    """The due time of ``step`` for ``prospect``, counted from ``anchor``."""
    return plan_due_at(
        anchor=anchor,
        step=step,
        cadence=cadence,
        zone=time_zone(prospect.timezone),
        calendar=BusinessCalendar(prospect.country),
        jitter_key=f"{prospect.email}:{cadence.name}:{step.number}",
    )


def contact_block(prospect: ProspectView) -> str | None:
    """What the prospect's own row forbids; suppressions are checked on top of it."""
    if prospect.do_not_contact:
        return "marked do-not-contact"
    if prospect.email_status != "valid":
        return f"address is {prospect.email_status}"
    return None


#: Rows, not models: a reply reads and halts them with Core statements (through the ORM a
#: reply cost about twice as much); in id order, the order every enrollment lock takes.
_LOCK_LIVE_ENROLLMENTS = (
    sa_select(*ENROLLMENT_VIEW_COLUMNS)
    .where(
        ENROLLMENTS.c.prospect_id == bindparam("prospect_id"),
        ENROLLMENTS.c.state.in_([s.value for s in LIVE_ENROLLMENT_STATES]),
    )
    .order_by(ENROLLMENTS.c.id)
    .with_for_update()
)


def lock_live_enrollments(session: Session, prospect_id: int) -> list[EnrollmentView]:
    """The prospect's active and paused enrollments, locked until the caller commits; as
    the session has them (its pending changes, an earlier event's pause, are written first,
    as an ORM query would)."""
    session.flush()
    rows = session.connection().execute(_LOCK_LIVE_ENROLLMENTS, {"prospect_id": prospect_id})
    return [cast(EnrollmentView, row) for row in rows]


@dataclass(frozen=True)
class EnrollmentStart:
    prospect: ProspectView
    owner: str


def start_enrollments(
    session: Session,
    *,
    cadence: CadenceDefinition,
    starts: Sequence[EnrollmentStart],
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> None:
    """Create the enrollments and their first touches in the caller's transaction: one
    statement each for the enrollments, their touches and their audit entries, however many
    (a list enrolled at once, a worker's batch of hand-overs). Each prospect at most once.
    Raises ``IntegrityError`` if a prospect is already live in the cadence (a concurrent
    enrollment)."""
    if not starts:
        return
    connection = session.connection()
    made = connection.execute(
        _INSERT_ENROLLMENT,
        [
            {
                "prospect_id": start.prospect.id,
                "cadence": cadence.name,
                "owner": start.owner,
                "state": EnrollmentState.ACTIVE.value,
                "reason": None,
                "enrolled_at": now,
                "updated_at": now,
                "first_touch_deadline": None,
                "resume_at": None,
            }
            for start in starts
        ],
    )
    enrollment_of = {prospect_id: enrollment_id for prospect_id, enrollment_id in made}
    started = [(enrollment_of[start.prospect.id], start) for start in starts]
    first_touches = []
    for enrollment_id, start in started:
        first = next_touch(
            cadence, enrollment_id=enrollment_id, prospect=start.prospect, done_step=0, anchor=now
        )
        assert first is not None  # a cadence has at least one step
        first_touches.append(first)
    connection.execute(INSERT_TOUCH, first_touches)
    record_audits(
        session,
        [
            audit_row(
                at=now,
                actor=actor,
                action="enrolled",
                prospect_id=start.prospect.id,
                enrollment_id=enrollment_id,
                after=f"{cadence.name}:active",
                reason=reason,
            )
            for enrollment_id, start in started
        ],
    )


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
    cadence = catalog.enrollable(cadence_name)
    if owner is not None:
        catalog.team.sender(owner)
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
    if not wanted:
        raise InputError("no prospects to enroll: give --email or --csv")
    found = {
        p.email: p for p in session.exec(select(Prospect).where(col(Prospect.email).in_(wanted)))
    }
    ids = [p.id for p in found.values() if p.id is not None]
    replied = _conversations(session, ids)
    suppressed = suppression_reasons(session, list(found))
    live_here = _live_in(session, ids, cadence.name)
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
        blocked = contact_block(prospect) or suppressed.get(email)
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
        if prospect.id in live_here:
            already.append(email)
    if problems:
        raise InputError("nothing enrolled:\n" + "\n".join(problems))
    fresh = [email for email in wanted if email not in already]
    starts = [EnrollmentStart(found[e], owner or found[e].owner) for e in fresh]
    try:
        start_enrollments(session, cadence=cadence, starts=starts, now=now, actor=actor)
    except IntegrityError as exc:
        raise ConflictError(
            "another enrollment of the same prospect in this cadence was made at the same "
            "time; nothing enrolled, try again"
        ) from exc
    return EnrollResult(cadence=cadence.name, enrolled=tuple(fresh), already_active=tuple(already))


def _live_in(session: Session, prospect_ids: Sequence[int], cadence: str) -> set[int]:
    """Which of the prospects are live in ``cadence`` now (one query for all)."""
    if not prospect_ids:
        return set()
    rows = (
        session.connection()
        .execute(_LIVE_IN, {"ids": list(prospect_ids), "cadence": cadence})
        .scalars()
    )
    return set(rows)


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
    session.flush()  # the enrollment's pending changes first: it is written set-based
    complete_enrollments(session, catalog, [(enrollment, prospect)], now=now)
    session.expire(enrollment)
    return None


#: Why an enrollment whose every step is done ends.
ALL_STEPS_DONE = "all steps done, no reply"


def complete_enrollments(
    session: Session,
    catalog: Catalog,
    finished: Sequence[tuple[EnrollmentView, ProspectView]],
    *,
    now: datetime,
) -> None:
    """Complete the live enrollments whose last step is done, and hand each over to its
    cadence's ``on_complete`` where the prospect may still be contacted and is not live in
    that cadence already; a few statements for a whole batch, not several each."""
    done = [(e, p) for e, p in finished if e.state in LIVE_ENROLLMENT_STATES]
    if not done:
        return
    session.connection().execute(
        _COMPLETE_ENROLLMENT,
        [{"enrollment_id": e.id, "now": now} for e, _ in done],
    )
    record_audits(
        session,
        [
            enrollment_moved(e, EnrollmentState.COMPLETED, reason=ALL_STEPS_DONE, now=now)
            for e, _ in done
        ],
    )
    by_cadence: dict[str, list[tuple[EnrollmentView, ProspectView]]] = {}
    for enrollment, prospect in done:
        by_cadence.setdefault(enrollment.cadence, []).append((enrollment, prospect))
    for name, pairs in by_cadence.items():
        handover = catalog.cadence(name).on_complete
        if not handover:
            continue
        suppressed = suppression_reasons(session, [p.email for _, p in pairs])
        contactable = [
            (e, p) for e, p in pairs if not contact_block(p) and p.email not in suppressed
        ]
        # Seen after any hand-over an earlier group made in this transaction.
        live = _live_in(session, [p.id for _, p in contactable if p.id is not None], handover)
        start_enrollments(
            session,
            cadence=catalog.cadence(handover),
            starts=[EnrollmentStart(p, e.owner) for e, p in contactable if p.id not in live],
            now=now,
            actor=SYSTEM,
            reason=f"handed over from {name} with no reply",
        )


#: Inserts :func:`next_touch`'s columns, one row or a batch (executemany).
INSERT_TOUCH = insert(TOUCHES)
#: Matched back by prospect (one live enrollment a prospect and cadence), not by row order:
#: asking for the order makes SQLAlchemy insert one row at a time on SQLite.
_INSERT_ENROLLMENT = insert(ENROLLMENTS).returning(ENROLLMENTS.c.prospect_id, ENROLLMENTS.c.id)
_COMPLETE_ENROLLMENT = (
    update(ENROLLMENTS)
    .where(ENROLLMENTS.c.id == bindparam("enrollment_id"))
    .values(
        state=EnrollmentState.COMPLETED.value, reason=ALL_STEPS_DONE, updated_at=bindparam("now")
    )
)
_LIVE_IN = sa_select(ENROLLMENTS.c.prospect_id).where(
    in_list(ENROLLMENTS.c.prospect_id, "ids"),
    ENROLLMENTS.c.cadence == bindparam("cadence"),
    ENROLLMENTS.c.state.in_([s.value for s in LIVE_ENROLLMENT_STATES]),
)


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


_HALT_ENROLLMENT = (
    update(ENROLLMENTS)
    .where(ENROLLMENTS.c.id == bindparam("enrollment_id"))
    .values(
        state=EnrollmentState.HALTED.value, reason=bindparam("why"), updated_at=bindparam("now")
    )
)


def halt_enrollments(
    session: Session,
    enrollments: Sequence[EnrollmentView],
    *,
    reason: str,
    now: datetime,
    actor: str,
    first_entries: Sequence[dict[str, Any]] = (),
) -> None:
    """Halt the (locked) enrollments, each with its audit entry, and cancel what they have
    not started, so claims see the halt; written as rows, and a model of one that the
    session holds is refreshed at its next read. ``first_entries`` (the halting event's)
    are written before the halts' entries, in the same statement."""
    if not enrollments:
        record_audits(session, first_entries)
        return
    session.flush()  # the caller's changes first, as with the rest of the transaction
    session.connection().execute(
        _HALT_ENROLLMENT,
        [{"enrollment_id": e.id, "why": reason, "now": now} for e in enrollments],
    )
    halted = EnrollmentState.HALTED
    moved = [enrollment_moved(e, halted, reason=reason, now=now, actor=actor) for e in enrollments]
    record_audits(session, [*first_entries, *moved])
    expire_loaded(session, Enrollment, [e.id for e in enrollments])
    for enrollment in enrollments:
        assert enrollment.id is not None
        cancel_pending_touches(session, enrollment.id, reason=f"halted: {reason}")


def cancel_pending_touches(session: Session, enrollment_id: int, *, reason: str) -> int:
    """Cancel touches that have not started delivery, and the SDR's open tasks of this
    enrollment (nobody should call a prospect who replied or unsubscribed); the number of
    touches cancelled. Set-based: a reply costs a few statements, not an object each."""
    session.flush()  # the caller's changes first; models of these rows are expired below
    connection = session.connection()
    tasks = connection.execute(_TASKS_OF_ENROLLMENT, {"of_enrollment": enrollment_id}).all()
    open_tasks = [task_id for task_id, status in tasks if status == "open"]
    if open_tasks:
        connection.execute(_CANCEL_TASKS, {"ids": open_tasks, "why": reason[:200]})
    cancelled = (
        connection.execute(_CANCEL_TOUCHES, {"of_enrollment": enrollment_id, "why": reason})
        .scalars()
        .all()
    )
    expire_loaded(session, Task, open_tasks)
    expire_loaded(session, Touch, cancelled)
    return len(cancelled)


# The enrollment's few tasks, found from its touches, then the open ones among them: with the
# status in the query SQLite's planner read every open task of every SDR (the status index)
# at each reply.
_TASKS_OF_ENROLLMENT = sa_select(TASKS.c.id, TASKS.c.status).where(
    TASKS.c.touch_id.in_(
        sa_select(TOUCHES.c.id).where(TOUCHES.c.enrollment_id == bindparam("of_enrollment"))
    )
)
_CANCEL_TASKS = (
    update(TASKS)
    .where(in_list(TASKS.c.id, "ids"), TASKS.c.status == "open")
    .values(status="cancelled", outcome=bindparam("why"))
)
_CANCEL_TOUCHES = (
    update(TOUCHES)
    .where(
        TOUCHES.c.enrollment_id == bindparam("of_enrollment"),
        TOUCHES.c.status.in_([TouchStatus.SCHEDULED.value, TouchStatus.QUEUED.value]),
    )
    .values(status=TouchStatus.CANCELLED.value, reason=bindparam("why"))
    .returning(TOUCHES.c.id)
)


def enroll_prospects(
    ctx: AppContext,
    emails: Sequence[str],
    cadence: str,
    *,
    owner: str | None,
    actor: str,
    allow_replied: bool = False,
) -> EnrollResult:
    with transaction(ctx.engine) as session:
        return enroll(
            session,
            ctx.catalog,
            emails=emails,
            cadence_name=cadence,
            owner=owner,
            now=ctx.clock.now(),
            actor=actor,
            allow_replied=allow_replied,
        )

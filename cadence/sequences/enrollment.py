"""Enrolling prospects in cadences and planning each next touch."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cadence.authoring.catalog import Catalog
from cadence.core.domain import (
    LIVE_ENROLLMENT_STATES,
    CadenceDefinition,
    EnrollmentState,
    EventKind,
    Stage,
)
from cadence.core.errors import ConflictError, InputError
from cadence.core.planning import contact_block
from cadence.runtime.context import AppContext
from cadence.sequences.touch_plans import INSERT_TOUCH, next_touch
from cadence.store.audit_log import audit_row, record_audits
from cadence.store.database import transaction
from cadence.store.models import (
    ENROLLMENTS,
    Event,
    Prospect,
)
from cadence.store.rows import (
    ProspectView,
)
from cadence.store.sql_lists import in_list
from cadence.store.suppressions import suppression_reasons


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
    live_here = live_in(session, ids, cadence.name)
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


def live_in(session: Session, prospect_ids: Sequence[int], cadence: str) -> set[int]:
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


#: Matched back by prospect (one live enrollment a prospect and cadence), not by row order:
#: asking for the order makes SQLAlchemy insert one row at a time on SQLite.
_INSERT_ENROLLMENT = insert(ENROLLMENTS).returning(ENROLLMENTS.c.prospect_id, ENROLLMENTS.c.id)


_LIVE_IN = sa_select(ENROLLMENTS.c.prospect_id).where(
    in_list(ENROLLMENTS.c.prospect_id, "ids"),
    ENROLLMENTS.c.cadence == bindparam("cadence"),
    ENROLLMENTS.c.state.in_([s.value for s in LIVE_ENROLLMENT_STATES]),
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

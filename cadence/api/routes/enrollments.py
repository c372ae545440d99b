"""``/api/v1/enrollments``: enroll prospects and pause, resume or halt an enrollment.

Changes go through the same use cases as the CLI (``enroll_prospects`` and
``record_by_hand``), so the API's effects and audit entries are the CLI's.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from cadence.api.routes.prospects import visible_prospect
from cadence.api.schemas import ControlIn, EnrollIn, EnrollmentOut, EnrollOut
from cadence.core.domain import EnrollmentState, EventKind
from cadence.core.errors import ConflictError, InputError, NotFoundError
from cadence.runtime.context import AppContext
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_by_hand
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Prospect
from cadence.web.errors import CadenceRoute
from cadence.web.params import Id, Limit, Name, Offset
from cadence.web.security import Actor, Ctx, Principal, Reader, hidden

router = APIRouter(route_class=CadenceRoute, tags=["enrollments"])


@router.get("/enrollments", response_model=list[EnrollmentOut])
def list_enrollments(
    ctx: Ctx,
    who: Reader,
    prospect_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    cadence: Name = None,
    owner: Name = None,
    state: EnrollmentState | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Enrollment]:
    query = select(Enrollment).join(Prospect, col(Prospect.id) == col(Enrollment.prospect_id))
    if who.owner_scope is not None:
        query = query.where(Prospect.owner == who.owner_scope)
    if prospect_id:
        query = query.where(Enrollment.prospect_id == prospect_id)
    if cadence:
        query = query.where(Enrollment.cadence == cadence)
    if owner:
        query = query.where(Enrollment.owner == owner)
    if state:
        query = query.where(Enrollment.state == state.value)
    query = query.order_by(col(Enrollment.id)).offset(offset).limit(limit)
    with transaction(ctx.engine) as session:
        return list(session.exec(query))


@router.get("/enrollments/{enrollment_id}", response_model=EnrollmentOut)
def get_enrollment(ctx: Ctx, who: Reader, enrollment_id: Id) -> Enrollment:
    return _visible(ctx, who, enrollment_id)[0]


@router.post("/enrollments", response_model=EnrollOut, status_code=201)
def create_enrollments(ctx: Ctx, who: Actor, body: EnrollIn) -> EnrollOut:
    """Enroll the addresses; any problem enrolls none (422 lists each). A prospect already
    live in the cadence is reported, not enrolled twice. An SDR enrolls only their own
    prospects, as themselves."""
    owner = body.owner
    if who.owner_scope is not None:
        if owner not in (None, who.name):
            raise InputError("an SDR enrolls prospects as themselves; leave owner out")
        with transaction(ctx.engine) as session:
            wanted = {e.strip().lower() for e in body.emails}
            theirs = session.exec(
                select(Prospect.email).where(
                    col(Prospect.email).in_(wanted), Prospect.owner == who.name
                )
            ).all()
        unknown = sorted(wanted - set(theirs))
        if unknown:
            raise NotFoundError("no prospect " + ", ".join(unknown))
        owner = who.name
    if owner is not None and owner not in {s.name for s in ctx.catalog.team.sdr}:
        known = ", ".join(s.name for s in ctx.catalog.team.sdr)
        raise InputError(f"unknown owner {owner!r}; known owners: {known}")
    result = enroll_prospects(
        ctx,
        body.emails,
        body.cadence,
        owner=owner,
        actor=who.actor,
        allow_replied=body.allow_replied,
    )
    return EnrollOut(
        cadence=result.cadence,
        enrolled=list(result.enrolled),
        already_active=list(result.already_active),
    )


@router.post("/enrollments/{enrollment_id}/pause", response_model=EnrollmentOut)
def pause(ctx: Ctx, who: Actor, enrollment_id: Id, body: ControlIn | None = None) -> Enrollment:
    """Stop sending until resumed; 409 unless the enrollment is active."""
    return _control(ctx, who, enrollment_id, EventKind.PAUSE, (EnrollmentState.ACTIVE,), body)


@router.post("/enrollments/{enrollment_id}/resume", response_model=EnrollmentOut)
def resume(ctx: Ctx, who: Actor, enrollment_id: Id, body: ControlIn | None = None) -> Enrollment:
    """Plan the next step again from now; 409 unless the enrollment is paused."""
    return _control(ctx, who, enrollment_id, EventKind.RESUME, (EnrollmentState.PAUSED,), body)


@router.post("/enrollments/{enrollment_id}/halt", response_model=EnrollmentOut)
def halt(ctx: Ctx, who: Actor, enrollment_id: Id, body: ControlIn | None = None) -> Enrollment:
    """End the enrollment for good and cancel its pending touches; 409 once it has ended."""
    live = (EnrollmentState.ACTIVE, EnrollmentState.PAUSED)
    return _control(ctx, who, enrollment_id, EventKind.HALT, live, body)


def _visible(ctx: AppContext, who: Principal, enrollment_id: int) -> tuple[Enrollment, Prospect]:
    with transaction(ctx.engine) as session:
        enrollment = session.get(Enrollment, enrollment_id)
        if enrollment is None:
            raise hidden("enrollment", enrollment_id)
        asked = ("enrollment", enrollment_id)
        return enrollment, visible_prospect(session, who, enrollment.prospect_id, asked=asked)


def _control(
    ctx: AppContext,
    who: Principal,
    enrollment_id: int,
    kind: EventKind,
    allowed: tuple[EnrollmentState, ...],
    body: ControlIn | None,
) -> Enrollment:
    enrollment, prospect = _visible(ctx, who, enrollment_id)
    if enrollment.state not in allowed:
        raise ConflictError(
            f"enrollment {enrollment_id} is {enrollment.state}; cannot {kind.value} it"
        )
    # A prospect has at most one live enrollment per cadence, so the cadence names this one.
    record_by_hand(
        ctx,
        kind,
        prospect.email,
        actor=who.actor,
        source="api",
        cadence=enrollment.cadence,
        reason=body.reason if body else None,
    )
    return _visible(ctx, who, enrollment_id)[0]

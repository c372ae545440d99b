"""``/api/v1`` reads of prospect data: prospects, touches (with what was sent) and events.

An SDR's queries are always narrowed to their own prospects, so lists never leak others'
rows and a direct id of someone else's record answers 404.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session, col, or_, select

from cadence.api.schemas import EnrollmentOut, EventOut, ProspectDetail, ProspectOut, TouchOut
from cadence.core.domain import Channel, EventKind, TouchStatus
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Event, Prospect, Touch
from cadence.web.errors import CadenceRoute
from cadence.web.params import Email, Id, Limit, Name, Offset, Since, Until, as_utc
from cadence.web.security import Ctx, Principal, Reader, hidden

router = APIRouter(route_class=CadenceRoute, tags=["prospects"])


def visible_prospect(
    session: Session, who: Principal, prospect_id: int, *, asked: tuple[str, int] | None = None
) -> Prospect:
    """The prospect, or NotFoundError when it does not exist or is another SDR's. ``asked``
    is the record the caller named (``("touch", 7)``) when it is not the prospect itself:
    the refusal names only that, exactly as when the record is missing."""
    prospect = session.get(Prospect, prospect_id)
    if prospect is None or not who.may_see_owner(prospect.owner):
        raise hidden(*(asked or ("prospect", prospect_id)))
    return prospect


def _owned(query: Any, who: Principal) -> Any:
    """Narrow a query joined with Prospect to the caller's own prospects (SDRs only)."""
    return query if who.owner_scope is None else query.where(Prospect.owner == who.owner_scope)


@router.get("/prospects", response_model=list[ProspectOut])
def list_prospects(
    ctx: Ctx,
    who: Reader,
    email: Email = None,
    owner: Name = None,
    company: Name = None,
    stage: Name = None,
    q: Annotated[Name, Query(description="part of the email, name or company")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Prospect]:
    query = _owned(select(Prospect), who)
    if email:
        query = query.where(Prospect.email == email.strip().lower())
    if owner:
        query = query.where(Prospect.owner == owner)
    if company:
        query = query.where(Prospect.company == company)
    if stage:
        query = query.where(Prospect.stage == stage)
    if q:
        like = f"%{q.strip().lower()}%"
        query = query.where(
            or_(
                col(Prospect.email).like(like),
                col(Prospect.company).ilike(like),
                col(Prospect.last_name).ilike(like),
                col(Prospect.first_name).ilike(like),
            )
        )
    query = query.order_by(col(Prospect.id)).offset(offset).limit(limit)
    with transaction(ctx.engine) as session:
        return list(session.exec(query))


@router.get("/prospects/{prospect_id}", response_model=ProspectDetail)
def get_prospect(ctx: Ctx, who: Reader, prospect_id: Id) -> ProspectDetail:
    with transaction(ctx.engine) as session:
        prospect = visible_prospect(session, who, prospect_id)
        enrollments = session.exec(
            select(Enrollment)
            .where(Enrollment.prospect_id == prospect_id)
            .order_by(col(Enrollment.id))
        ).all()
        return ProspectDetail.model_validate(
            {
                **ProspectOut.model_validate(prospect).model_dump(),
                "enrollments": [EnrollmentOut.model_validate(e) for e in enrollments],
            }
        )


@router.get("/touches", response_model=list[TouchOut])
def list_touches(
    ctx: Ctx,
    who: Reader,
    prospect_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    enrollment_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    status: TouchStatus | None = None,
    channel: Channel | None = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Touch]:
    """Oldest due first; ``since``/``until`` bound the due time."""
    query = _owned(select(Touch).join(Prospect, col(Prospect.id) == col(Touch.prospect_id)), who)
    if prospect_id:
        query = query.where(Touch.prospect_id == prospect_id)
    if enrollment_id:
        query = query.where(Touch.enrollment_id == enrollment_id)
    if status:
        query = query.where(Touch.status == status.value)
    if channel:
        query = query.where(Touch.channel == channel.value)
    if (start := as_utc(since)) is not None:
        query = query.where(col(Touch.due_at) >= start)
    if (end := as_utc(until)) is not None:
        query = query.where(col(Touch.due_at) < end)
    query = query.order_by(col(Touch.due_at), col(Touch.id)).offset(offset).limit(limit)
    with transaction(ctx.engine) as session:
        return list(session.exec(query))


@router.get("/touches/{touch_id}", response_model=TouchOut)
def get_touch(ctx: Ctx, who: Reader, touch_id: Id) -> Touch:
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
        if touch is None:
            raise hidden("touch", touch_id)
        visible_prospect(session, who, touch.prospect_id, asked=("touch", touch_id))
        return touch


@router.get("/events", response_model=list[EventOut])
def list_events(
    ctx: Ctx,
    who: Reader,
    prospect_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    kind: EventKind | None = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[Event]:
    """Oldest first by occurrence. Events that matched no prospect are shown to managers."""
    query = select(Event).join(
        Prospect, col(Prospect.id) == col(Event.prospect_id), isouter=who.owner_scope is None
    )
    query = _owned(query, who)
    if prospect_id:
        query = query.where(Event.prospect_id == prospect_id)
    if kind:
        query = query.where(Event.kind == kind.value)
    if (start := as_utc(since)) is not None:
        query = query.where(col(Event.occurred_at) >= start)
    if (end := as_utc(until)) is not None:
        query = query.where(col(Event.occurred_at) < end)
    query = query.order_by(col(Event.occurred_at), col(Event.id)).offset(offset).limit(limit)
    with transaction(ctx.engine) as session:
        return list(session.exec(query))

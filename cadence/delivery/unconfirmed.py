"""A person's verdict on an ``unconfirmed`` touch: it did go out, or it did not.

Only a person may decide: the mail server's logs or the prospect's inbox say which. Sent
moves the cadence on as a normal send would; not sent schedules it again at the next slot.
"""

from dataclasses import replace
from datetime import datetime

from sqlmodel import Session, select

from cadence.authoring.catalog import Catalog
from cadence.core.domain import Delay, TouchStatus
from cadence.core.errors import ConflictError, NotFoundError
from cadence.core.planning import plan_step
from cadence.sequences.progress import advance
from cadence.store.models import Enrollment, Prospect, Touch
from cadence.store.transitions import move_touch


def resolve_unconfirmed(
    session: Session,
    catalog: Catalog,
    touch_id: int,
    *,
    delivered: bool,
    now: datetime,
    actor: str,
) -> Touch:
    touch = session.get(Touch, touch_id)
    if touch is None:
        raise NotFoundError(f"no touch {touch_id}")
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.id == touch.enrollment_id).with_for_update()
    ).one()
    session.refresh(touch)
    if touch.status != TouchStatus.UNCONFIRMED:
        raise ConflictError(f"touch {touch_id} is {touch.status}, not unconfirmed")
    prospect = session.get(Prospect, touch.prospect_id)
    assert prospect is not None
    if delivered:
        touch.sent_at = touch.started_at or now
        move_touch(
            session,
            touch,
            TouchStatus.SENT,
            reason="confirmed delivered by a person",
            now=now,
            actor=actor,
        )
        advance(session, catalog, enrollment=enrollment, prospect=prospect, done=touch, now=now)
        return touch
    cadence = catalog.cadence(enrollment.cadence)
    step = replace(cadence.step(touch.step), delay=Delay())
    touch.due_at = plan_step(cadence=cadence, step=step, prospect=prospect, anchor=now)
    touch.message_id = None  # a new send gets a new Message-ID
    move_touch(
        session,
        touch,
        TouchStatus.SCHEDULED,
        reason="not delivered, per a person; sending again",
        now=now,
        actor=actor,
    )
    return touch

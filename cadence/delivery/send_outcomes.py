"""Settling what a send or a claim came to: sent, back to the queue, unconfirmed for a person,
or failed; each written with retries while the store comes back."""

import logging
import time
from collections.abc import Callable
from functools import partial

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from cadence.core.domain import EnrollmentState, TouchStatus
from cadence.core.errors import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    MailboxUnavailable,
    TransientDeliveryError,
)
from cadence.core.outcomes import TouchOutcome
from cadence.delivery.claimed import Claimed
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Touch
from cadence.store.rows import (
    locked_touch_views,
    model_of,
)
from cadence.store.transitions import fail_touch, move_touch

log = logging.getLogger(__name__)


def send_email(ctx: AppContext, touch_id: int, claim: Claimed) -> TouchOutcome:
    """Hand one claimed email to the transport; settle what its error says at once."""
    assert claim.message is not None
    try:
        ctx.transport.send(claim.message)
    except MailboxUnavailable:
        raise  # the batch moves that mailbox's emails later (delivery.mailbox_stops)
    except TransientDeliveryError as exc:
        with_store_retries(ctx, partial(requeue, ctx, touch_ids=[touch_id], reason=str(exc)))
        raise
    except DeliveryOutcomeUnknown as exc:
        with_store_retries(ctx, partial(flag_unconfirmed, ctx, touch_id=touch_id, reason=str(exc)))
        return TouchOutcome.UNCONFIRMED
    except DeliveryError as exc:
        with_store_retries(ctx, partial(mark_failed, ctx, touch_id=touch_id, reason=str(exc)))
        return TouchOutcome.FAILED
    return TouchOutcome.SENT


#: The store failing, not the touch: the message is retried and the touches stay queued.
#: A pool timeout (every connection in use) is one too.
STORE_ERRORS = (DBAPIError, PoolTimeout)


#: The store unreachable for a moment: a write the worker owes is tried again.
STORE_OUTAGES = (OperationalError, PoolTimeout)


#: Pauses between tries to record an outcome the worker already knows, as the store comes back.
STORE_RETRY_DELAYS = (0.2, 1.0, 3.0)


def with_store_retries(ctx: AppContext, write: Callable[[Session], None]) -> None:
    """Run ``write`` in a transaction, again on a fresh connection if the store drops."""
    for delay in (*STORE_RETRY_DELAYS, None):
        try:
            with transaction(ctx.engine) as session:
                write(session)
            return
        except STORE_OUTAGES:
            if delay is None:
                raise
            log.warning("store connection lost while recording touches; retrying")
            time.sleep(delay)


#: Why claimed emails the worker never handed to the transport went back to the queue.
NOT_HANDED_OVER = "not sent, the worker stopped before it"


def requeue(
    ctx: AppContext, session: Session, *, touch_ids: list[int], reason: str = NOT_HANDED_OVER
) -> None:
    """The server did not take them: safe to try again, and the broker's retry will."""
    session.execute(
        update(Touch)
        .where(col(Touch.id).in_(touch_ids), col(Touch.status) == TouchStatus.SENDING)
        .values(status=TouchStatus.QUEUED, queued_at=ctx.clock.now(), reason=f"retrying: {reason}")
        .execution_options(synchronize_session=False)
    )


def fail_crashed_claim(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
    """Fail a touch whose claim broke, pausing its enrollment for a person to look, if both
    are still as the claim would have taken them: read under the enrollment's lock, so a
    halt committed meanwhile is seen (read before it, a halted enrollment became paused)."""
    found = locked_touch_views(session, [touch_id])
    if touch_id not in found:
        return
    touch, enrollment = found[touch_id]
    if touch.status != TouchStatus.QUEUED or enrollment.state != EnrollmentState.ACTIVE:
        return
    fail_touch(
        session,
        model_of(session, Touch, touch_id),
        model_of(session, Enrollment, enrollment.id),
        f"could not be prepared: {reason}",
        ctx.clock.now(),
        pause=True,
    )


def flag_unconfirmed(ctx: AppContext, session: Session, *, touch_id: int, reason: str) -> None:
    """The server may have it: flag for a person, never re-send blindly."""
    touch = session.get(Touch, touch_id)
    if touch is None or touch.status != TouchStatus.SENDING:
        return
    move_touch(
        session,
        touch,
        TouchStatus.UNCONFIRMED,
        reason=f"{reason}; review before resending",
        now=ctx.clock.now(),
    )


def mark_failed(ctx: AppContext, session: Session, *, touch_id: int, reason: str) -> None:
    touch = session.get(Touch, touch_id)
    if touch is None or touch.status != TouchStatus.SENDING:
        return
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.id == touch.enrollment_id).with_for_update()
    ).one()
    fail_touch(session, touch, enrollment, reason, ctx.clock.now(), halt=True)

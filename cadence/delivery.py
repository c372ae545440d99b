"""Deliver one touch by id: the worker's whole job, idempotent under redelivery.

Three steps, two commits around the send:

1. claim: lock the enrollment row, check the touch is still ``queued`` and the enrollment
   ``active``, render, and move the touch to ``sending`` (with its Message-ID) — committed
   before anything leaves, so a halt either wins the lock first or sees ``sending``;
2. send through the transport, outside any transaction;
3. record ``sent`` and plan the next step.

A crash between 2 and 3 leaves ``sending``; the reaper flags it ``unconfirmed``.
"""

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, select

from cadence.audit_log import record_audit
from cadence.context import AppContext
from cadence.database import transaction
from cadence.domain import TouchStatus
from cadence.enrollment import advance
from cadence.errors import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    TransientDeliveryError,
)
from cadence.models import Enrollment, Prospect, Touch
from cadence.touch_claim import Claimed, claim_touch, locked_touch
from cadence.transitions import fail_touch, move_touch

log = logging.getLogger(__name__)


def deliver_touch(ctx: AppContext, touch_id: int) -> str:
    """Run one touch; returns a short word for logs (``sent``, ``task``, ``skipped:…``).

    Raises :class:`TransientDeliveryError` after putting the touch back to ``queued``, so the
    broker's retry delivers it again later. A database outage propagates (the touch stays
    ``queued`` and is retried); any other error in the claim fails the touch for review
    instead of leaving it queued forever.
    """
    try:
        with transaction(ctx.engine) as session:
            outcome = claim_touch(ctx, session, touch_id)
    except DBAPIError:
        raise
    except Exception as exc:
        log.exception("touch %s could not be prepared", touch_id)
        with transaction(ctx.engine) as session:
            _prepare_crashed(ctx, session, touch_id, f"{type(exc).__name__}: {exc}")
        return "failed:error"
    if not isinstance(outcome, Claimed):
        return outcome
    if outcome.message is None:
        return "task"
    try:
        ctx.transport.send(outcome.message)
    except TransientDeliveryError as exc:
        why = str(exc)
        _with_store_retries(ctx, lambda session: _requeue(ctx, session, touch_id, why))
        raise
    except DeliveryOutcomeUnknown as exc:
        with transaction(ctx.engine) as session:
            _unconfirmed(ctx, session, touch_id, str(exc))
        return "unconfirmed"
    except DeliveryError as exc:
        with transaction(ctx.engine) as session:
            _failed(ctx, session, touch_id, str(exc))
        return "failed"
    # The server has the message: a dropped store connection must not make it unconfirmed.
    _with_store_retries(ctx, lambda session: _record_sent(ctx, session, touch_id))
    return "sent"


#: Pauses between tries to record an outcome the worker already knows, as the store comes back.
STORE_RETRY_DELAYS = (0.2, 1.0, 3.0)


def _with_store_retries(ctx: AppContext, write: Callable[[Session], None]) -> None:
    """Run ``write`` in a transaction, again on a fresh connection if the store drops."""
    for delay in (*STORE_RETRY_DELAYS, None):
        try:
            with transaction(ctx.engine) as session:
                write(session)
            return
        except OperationalError:
            if delay is None:
                raise
            log.warning("store connection lost while recording a touch; retrying")
            time.sleep(delay)


def _record_sent(ctx: AppContext, session: Session, touch_id: int) -> None:
    now = ctx.clock.now()
    found = locked_touch(session, touch_id)
    assert found is not None
    touch, enrollment = found
    if touch.status != TouchStatus.SENDING:
        log.warning("touch %s was %s when its send was recorded", touch_id, touch.status)
        return
    touch.status = TouchStatus.SENT
    touch.sent_at = now
    session.add(touch)
    record_audit(
        session,
        at=now,
        action="touch:sent",
        prospect_id=touch.prospect_id,
        enrollment_id=enrollment.id,
        touch_id=touch.id,
        before="sending",
        after="sent",
        reason=touch.message_id,
    )
    prospect = session.get(Prospect, touch.prospect_id)
    assert prospect is not None
    advance(session, ctx.catalog, enrollment=enrollment, prospect=prospect, done=touch, now=now)


def _prepare_crashed(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
    touch = session.get(Touch, touch_id)
    if touch is None or touch.status != TouchStatus.QUEUED:
        return
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.id == touch.enrollment_id).with_for_update()
    ).one()
    fail_touch(
        session, touch, enrollment, f"could not be prepared: {reason}", ctx.clock.now(), pause=True
    )


def _unconfirmed(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
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


def _requeue(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
    """The server did not take it: safe to try again, and the broker will."""
    touch = session.get(Touch, touch_id)
    if touch is not None and touch.status == TouchStatus.SENDING:
        touch.status = TouchStatus.QUEUED
        touch.queued_at = ctx.clock.now()
        touch.reason = f"retrying: {reason}"
        session.add(touch)


def _failed(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
    touch = session.get(Touch, touch_id)
    if touch is None or touch.status != TouchStatus.SENDING:
        return
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.id == touch.enrollment_id).with_for_update()
    ).one()
    fail_touch(session, touch, enrollment, reason, ctx.clock.now(), halt=True)

"""Deliver touches by id: the worker's whole job, idempotent under redelivery.

Three steps, two commits around the sends, each shared by a batch of touches:

1. claim: lock the enrollment rows, check each touch is still ``queued`` and its enrollment
   ``active``, render, and move the touch to ``sending`` (with its Message-ID) — committed
   before anything leaves, so a halt either wins the lock first or sees ``sending``;
2. send each through the transport, outside any transaction;
3. record ``sent`` and plan each next step.

A crash between 2 and 3 leaves ``sending``; the reaper flags it ``unconfirmed``.
"""

import logging
import time
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy import insert, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, col, select

from cadence.audit_log import audit_row, record_audits
from cadence.context import AppContext
from cadence.database import transaction
from cadence.domain import LIVE_ENROLLMENT_STATES, TouchStatus
from cadence.enrollment import advance, next_touch
from cadence.errors import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    TransientDeliveryError,
)
from cadence.models import Enrollment, Touch
from cadence.touch_claim import Claimed, claim_touches, prospects_by_id
from cadence.transitions import fail_touch, move_touch

log = logging.getLogger(__name__)


def deliver_touch(ctx: AppContext, touch_id: int) -> str:
    """:func:`deliver_touches` for one touch; returns its word."""
    return deliver_touches(ctx, [touch_id])[touch_id]


def deliver_touches(ctx: AppContext, touch_ids: Sequence[int]) -> dict[int, str]:
    """Run a batch of touches; returns a short word per touch for logs (``sent``, ``task``,
    ``skipped:…``).

    Raises :class:`TransientDeliveryError` when a send failed transiently, after recording
    every other outcome and putting those touches back to ``queued``, so the broker's retry
    of the message delivers them again later (the rest are skipped then). A database outage
    propagates (the touches stay ``queued`` and are retried); any other error in a claim
    fails that touch for review instead of leaving it queued forever.
    """
    ids = list(dict.fromkeys(touch_ids))
    claims = _claim(ctx, ids)
    outcomes: dict[int, str] = {}
    sent: list[int] = []
    transient: TransientDeliveryError | None = None
    try:
        for position, touch_id in enumerate(ids):
            claim = claims[touch_id]
            if not isinstance(claim, Claimed):
                outcomes[touch_id] = claim
            elif claim.message is None:
                outcomes[touch_id] = "task"
            else:
                try:
                    outcomes[touch_id] = _send(ctx, touch_id, claim)
                except TransientDeliveryError as exc:
                    transient, outcomes[touch_id] = exc, "retrying"
                except Exception as exc:
                    _unexpected(ctx, ids, claims, position, exc)
                    raise
                if outcomes[touch_id] == "sent":
                    sent.append(touch_id)
    finally:
        if sent:
            # The server has the messages: a dropped store connection must not make them
            # unconfirmed.
            _with_store_retries(ctx, lambda session: _record_sent(ctx, session, sent))
    if transient is not None:
        raise transient
    return outcomes


def _send(ctx: AppContext, touch_id: int, claim: Claimed) -> str:
    """Hand one claimed email to the transport; settle what its error says at once."""
    assert claim.message is not None
    try:
        ctx.transport.send(claim.message)
    except TransientDeliveryError as exc:
        _with_store_retries(ctx, partial(_requeue, ctx, touch_id=touch_id, reason=str(exc)))
        raise
    except DeliveryOutcomeUnknown as exc:
        with transaction(ctx.engine) as session:
            _unconfirmed(ctx, session, touch_id, str(exc))
        return "unconfirmed"
    except DeliveryError as exc:
        with transaction(ctx.engine) as session:
            _failed(ctx, session, touch_id, str(exc))
        return "failed"
    return "sent"


def _unexpected(
    ctx: AppContext,
    ids: list[int],
    claims: dict[int, Claimed | str],
    position: int,
    exc: Exception,
) -> None:
    """The transport broke in a way it does not classify: that email's fate is unknown, so
    a person reviews it; the emails after it were never handed over and go back to the
    queue for the message's retry."""
    log.exception("transport raised on touch %s", ids[position])
    why = f"transport raised {type(exc).__name__}: {exc}"
    with transaction(ctx.engine) as session:
        _unconfirmed(ctx, session, ids[position], why)
    for touch_id in ids[position + 1 :]:
        claim = claims[touch_id]
        if isinstance(claim, Claimed) and claim.message is not None:
            _with_store_retries(
                ctx,
                partial(_requeue, ctx, touch_id=touch_id, reason="not sent: " + why),
            )


def _claim(ctx: AppContext, ids: list[int]) -> dict[int, Claimed | str]:
    """Claim the batch in one transaction; if a touch's claim breaks on something other than
    the store, claim each touch on its own, so only the broken one fails."""
    try:
        with transaction(ctx.engine) as session:
            return claim_touches(ctx, session, ids)
    except DBAPIError:
        raise
    except Exception as exc:
        if len(ids) == 1:
            log.exception("touch %s could not be prepared", ids[0])
            with transaction(ctx.engine) as session:
                _prepare_crashed(ctx, session, ids[0], f"{type(exc).__name__}: {exc}")
            return {ids[0]: "failed:error"}
    log.warning("a batch of %d touches could not be claimed at once; one by one", len(ids))
    claims: dict[int, Claimed | str] = {}
    for touch_id in ids:
        claims.update(_claim(ctx, [touch_id]))
    return claims


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
            log.warning("store connection lost while recording touches; retrying")
            time.sleep(delay)


def _record_sent(ctx: AppContext, session: Session, touch_ids: list[int]) -> None:
    """Record the batch's sends with set-based statements: the enrollments locked (as a
    halt locks them), one UPDATE … RETURNING for the touches, one executemany for their
    audit entries, and the next touches added together. Only a cadence's last step goes
    through :func:`advance` object by object, to complete or hand over the enrollment."""
    now = ctx.clock.now()
    enrollments = {
        row.id: row
        for row in session.execute(
            select(col(Enrollment.id), col(Enrollment.state), col(Enrollment.cadence))
            .join(Touch, col(Touch.enrollment_id) == col(Enrollment.id))
            .where(col(Touch.id).in_(touch_ids))
            .order_by(col(Enrollment.id))
            .with_for_update(of=Enrollment)
        )
    }
    recorded = session.execute(
        update(Touch)
        .where(col(Touch.id).in_(touch_ids), col(Touch.status) == TouchStatus.SENDING)
        .values(status=TouchStatus.SENT, sent_at=now)
        .returning(
            col(Touch.id),
            col(Touch.enrollment_id),
            col(Touch.prospect_id),
            col(Touch.step),
            col(Touch.message_id),
        )
        .execution_options(synchronize_session=False)
    ).all()
    for touch_id in set(touch_ids) - {row.id for row in recorded}:
        log.warning("touch %s was no longer sending when its send was recorded", touch_id)
    record_audits(
        session,
        [
            audit_row(
                at=now,
                action="touch:sent",
                prospect_id=row.prospect_id,
                enrollment_id=row.enrollment_id,
                touch_id=row.id,
                before="sending",
                after="sent",
                reason=row.message_id,
            )
            for row in recorded
        ],
    )
    live = [r for r in recorded if enrollments[r.enrollment_id].state in LIVE_ENROLLMENT_STATES]
    prospects = prospects_by_id(session, {row.prospect_id for row in live})
    planned = []
    for row in live:
        cadence = ctx.catalog.cadence(enrollments[row.enrollment_id].cadence)
        upcoming = next_touch(
            cadence,
            enrollment_id=row.enrollment_id,
            prospect=prospects[row.prospect_id],
            done_step=row.step,
            anchor=now,
        )
        if upcoming is not None:
            planned.append(upcoming)
            continue
        enrollment = session.get(Enrollment, row.enrollment_id)
        done = session.get(Touch, row.id)
        assert enrollment is not None and done is not None
        advance(
            session,
            ctx.catalog,
            enrollment=enrollment,
            prospect=prospects[row.prospect_id],
            done=done,
            now=now,
        )
    if planned:
        session.execute(insert(Touch), planned)


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


def _requeue(ctx: AppContext, session: Session, *, touch_id: int, reason: str) -> None:
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

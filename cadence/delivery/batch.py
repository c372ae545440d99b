"""Deliver touches by id: the worker's whole job, idempotent under redelivery.

Three steps, two commits around the sends, each shared by a batch of touches:

1. claim: lock the enrollment rows, check each touch is still ``queued`` and its enrollment
   ``active``, render, and move the touch to ``sending`` (with its Message-ID) — committed
   before anything leaves, so a halt either wins the lock first or sees ``sending``. On
   PostgreSQL the batch is rendered and composed before the locks, and the claim uses that
   only for touches whose rows it finds unchanged under them (:mod:`cadence.delivery.claim`);
2. send each through the transport, outside any transaction;
3. record ``sent`` and plan each next step (planned before the record locks).

A crash between 2 and 3 leaves ``sending``; the reaper flags it ``unconfirmed``.
"""

import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, bindparam, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from cadence.core.domain import LIVE_ENROLLMENT_STATES, EnrollmentState, TouchStatus
from cadence.core.errors import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    MailServerUnavailable,
    TransientDeliveryError,
)
from cadence.delivery.claim import (
    Claimed,
    NextStepInputs,
    claim_touches,
    prepared_batch,
    taken_back,
)
from cadence.runtime.context import AppContext
from cadence.sequences.enrollment import INSERT_TOUCH, complete_enrollments, next_touch
from cadence.store.audit_log import audit_row, record_audits
from cadence.store.database import reading, transaction
from cadence.store.models import ENROLLMENTS, TOUCHES, Enrollment, Touch
from cadence.store.rows import (
    ProspectView,
    lock_enrollments_of_touches,
    locked_touch_views,
    model_of,
    prospect_views,
)
from cadence.store.sql_lists import in_list
from cadence.store.transitions import fail_touch, move_enrollment, move_touch

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
    emails: list[tuple[int, Claimed]] = []
    for touch_id in ids:
        claim = claims[touch_id]
        if not isinstance(claim, Claimed):
            outcomes[touch_id] = claim
        elif claim.message is None:
            outcomes[touch_id] = "task"
        else:
            emails.append((touch_id, claim))
    sent: dict[int, NextStepInputs] = {}
    handed_over: set[int] = set()
    transient: TransientDeliveryError | None = None
    in_flight = _in_flight(ctx)
    batch = in_flight.hold([touch_id for touch_id, _ in emails])
    try:
        for touch_id, claim in emails:
            stopped = in_flight.hand_over(ctx, batch, touch_id)
            if stopped is not None:
                if stopped != UNSETTLED:  # else back to "queued" below, with the untried
                    outcomes[touch_id] = stopped
                continue
            handed_over.add(touch_id)
            try:
                outcomes[touch_id] = _send(ctx, touch_id, claim)
            except MailServerUnavailable as exc:
                transient, outcomes[touch_id] = exc, "retrying"
                break
            except TransientDeliveryError as exc:
                transient, outcomes[touch_id] = exc, "retrying"
            except Exception as exc:
                log.exception("transport raised on touch %s", touch_id)
                why = f"transport raised {type(exc).__name__}: {exc}"
                _with_store_retries(ctx, partial(_unconfirmed, ctx, touch_id=touch_id, reason=why))
                raise
            if outcomes[touch_id] == "sent":
                assert claim.next_step is not None
                sent[touch_id] = claim.next_step
    finally:
        # Whatever stopped the loop (a server down, an error, the broker's time limit), the
        # emails not yet handed over go back to the queue for the message's retry; one being
        # handed over when it stopped stays "sending" and is reviewed as unconfirmed.
        outcomes.update(in_flight.release(batch, [touch_id for touch_id, _ in emails]))
        untried = [i for i, _ in emails if i not in handed_over and i not in outcomes]
        try:
            if untried:
                _with_store_retries(ctx, partial(_requeue, ctx, touch_ids=untried))
                outcomes.update(dict.fromkeys(untried, "retrying"))
        finally:
            if sent:
                # The server has the messages: a dropped store connection (or the requeue
                # failing) must not make them unconfirmed.
                _record_sent_batch(ctx, sent)
    if transient is not None:
        raise transient
    return outcomes


class _InFlight:
    """The emails a process's worker threads have claimed and not yet handed over, watched
    together for enrollments halted or paused since their claim: a reply arriving while a
    batch's first emails go out still stops the later ones, which have not left yet.

    One look every :data:`HALT_CHECK_SECONDS` covers every thread's batch (a look per thread
    was 150 reads a second at 16 threads, a fifth of a worker's CPU). A look takes back what
    it finds; each thread asks, before each send, whether its email may still go. Emails are
    held per batch (a touch taken back, resumed and claimed again by another batch is that
    batch's), and a look's outcome is settled before anyone acts on it: dramatiq's time limit
    can raise in a thread at any moment, the looking one included."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._batches = itertools.count()
        #: (batch, touch id) → None while it may go; the reason once a look stopped it;
        #: _TAKING while a look takes it back.
        self._held: dict[tuple[int, int], str | None] = {}
        self._looked_at = time.monotonic()
        self._looking_since: float | None = None

    def hold(self, touch_ids: Sequence[int]) -> int:
        """Claimed just now (the claim saw every halt committed before it); the batch's key."""
        with self._changed:
            if not self._held:
                self._looked_at = time.monotonic()
            batch = next(self._batches)
            self._held.update({(batch, touch_id): None for touch_id in touch_ids})
            return batch

    def hand_over(self, ctx: AppContext, batch: int, touch_id: int) -> str | None:
        """None if the email may go now (it is no longer watched then); else why not:
        :data:`UNSETTLED` if a look failed while taking it back."""
        self._look_if_due(ctx)
        key = (batch, touch_id)
        with self._changed:
            if self._held.get(key) == _TAKING and self._looking_since is not None:
                # Until the look settles it, or gives up: a look that never settled costs
                # its emails one wait together, not one each.
                left = LOOK_GIVES_UP_SECONDS - (time.monotonic() - self._looking_since)
                self._changed.wait_for(lambda: self._held.get(key) != _TAKING, timeout=left)
            why = self._held.pop(key, None)
            return UNSETTLED if why == _TAKING else why

    def release(self, batch: int, touch_ids: Sequence[int]) -> dict[int, str]:
        """Stop watching the batch; the emails a look stopped that were not asked for, with
        why (those it left unsettled are not among them: they go back to the queue)."""
        with self._changed:
            found = {touch_id: self._held.pop((batch, touch_id), None) for touch_id in touch_ids}
        return {i: why for i, why in found.items() if why not in (None, _TAKING, UNSETTLED)}

    def _look_if_due(self, ctx: AppContext) -> None:
        with self._changed:
            now = time.monotonic()
            if now - self._looked_at < HALT_CHECK_SECONDS:  # before every send: cheap first
                return
            busy = (
                self._looking_since is not None
                and now - self._looking_since < LOOK_GIVES_UP_SECONDS
            )
            waiting = [key for key, why in self._held.items() if why is None]
            if busy or not waiting:
                return
            self._looking_since = now
        try:
            with reading(ctx.engine) as connection:
                ids = list({touch_id for _, touch_id in waiting})
                halted = set(connection.execute(_HALTED_IN_HAND, {"ids": ids}).scalars())
            if halted:
                self._take_back(ctx, halted)
        finally:
            with self._changed:
                self._looking_since = None
                self._looked_at = time.monotonic()

    def _take_back(self, ctx: AppContext, halted: set[int]) -> None:
        """Take back those still not handed over; their threads wait for the outcome."""
        with self._changed:
            taken = [key for key, why in self._held.items() if why is None and key[1] in halted]
            self._held.update(dict.fromkeys(taken, _TAKING))
        if not taken:  # all handed over since the read
            return
        stopped: dict[int, str] | None = None
        try:
            with transaction(ctx.engine) as session:
                found = _stop_halted(ctx, session, list({touch_id for _, touch_id in taken}))
            stopped = found
        finally:
            # Not committed for sure: the thread puts it back to "queued" (a change only if it
            # is still "sending"), where the scheduler sends it again after REQUEUE_AFTER and
            # the claim then sees the halt.
            with self._changed:
                try:
                    for key in taken:
                        if key in self._held:
                            self._held[key] = UNSETTLED if stopped is None else stopped.get(key[1])
                finally:
                    self._changed.notify_all()


#: A look left these neither sent nor settled: the thread requeues them.
UNSETTLED = "retrying"
_TAKING = "taking back"
#: A look taking longer is treated as failed: its emails go back to the queue, and another
#: look may start. Longer than a take-back can wait for SQLite's write lock (60 s).
LOOK_GIVES_UP_SECONDS = 90.0
_IN_FLIGHT: "weakref.WeakKeyDictionary[Engine, _InFlight]" = weakref.WeakKeyDictionary()
_IN_FLIGHT_LOCK = threading.Lock()


def _in_flight(ctx: AppContext) -> _InFlight:
    """The process's watch over the emails in hand, one per store."""
    with _IN_FLIGHT_LOCK:
        found = _IN_FLIGHT.get(ctx.engine)
        if found is None:
            found = _IN_FLIGHT[ctx.engine] = _InFlight()
        return found


#: How often a worker sending a batch looks for enrollments halted since its claim.
HALT_CHECK_SECONDS = 0.1


#: The look itself: a read without locks, as nearly every look finds nothing (a locking read
#: in a transaction of its own cost 2.3 times the CPU, and took SQLite's write lock); what it
#: finds is taken back under the enrollment locks a halt takes, and checked again there.
def _stopped_in_hand(among: ColumnElement[bool]) -> ColumnElement[bool]:
    """Among some touches, those still sending whose enrollment is no longer active: the
    look's question and the take-back's, asked once with the touch and enrollment joined."""
    return and_(
        among,
        TOUCHES.c.status == TouchStatus.SENDING.value,
        ENROLLMENTS.c.state != EnrollmentState.ACTIVE.value,
    )


_HALTED_IN_HAND = (
    sa_select(TOUCHES.c.id)
    .join(ENROLLMENTS, ENROLLMENTS.c.id == TOUCHES.c.enrollment_id)
    .where(_stopped_in_hand(in_list(TOUCHES.c.id, "ids")))
)


def _stop_halted(ctx: AppContext, session: Session, touch_ids: list[int]) -> dict[int, str]:
    """Take back the touches among ``touch_ids`` whose enrollment is no longer active, as the
    claim would have: back to scheduled when paused, cancelled when stopped."""
    rows = session.exec(
        select(Touch, Enrollment)
        .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
        .where(_stopped_in_hand(col(Touch.id).in_(touch_ids)))
        .with_for_update(of=Enrollment)
    ).all()
    stopped = {}
    for touch, enrollment in rows:
        assert touch.id is not None
        status, why = taken_back(enrollment)
        move_touch(session, touch, status, reason=why, now=ctx.clock.now())
        stopped[touch.id] = f"skipped:enrollment-{enrollment.state}"
    return stopped


def _send(ctx: AppContext, touch_id: int, claim: Claimed) -> str:
    """Hand one claimed email to the transport; settle what its error says at once."""
    assert claim.message is not None
    try:
        ctx.transport.send(claim.message)
    except TransientDeliveryError as exc:
        _with_store_retries(ctx, partial(_requeue, ctx, touch_ids=[touch_id], reason=str(exc)))
        raise
    except DeliveryOutcomeUnknown as exc:
        _with_store_retries(ctx, partial(_unconfirmed, ctx, touch_id=touch_id, reason=str(exc)))
        return "unconfirmed"
    except DeliveryError as exc:
        _with_store_retries(ctx, partial(_failed, ctx, touch_id=touch_id, reason=str(exc)))
        return "failed"
    return "sent"


#: The store failing, not the touch: the message is retried and the touches stay queued.
#: A pool timeout (every connection in use) is one too.
STORE_ERRORS = (DBAPIError, PoolTimeout)
#: The store unreachable for a moment: a write the worker owes is tried again.
STORE_OUTAGES = (OperationalError, PoolTimeout)


def _claim(ctx: AppContext, ids: list[int]) -> dict[int, Claimed | str]:
    """Claim the batch in one transaction; if a touch's claim breaks on something other than
    the store, claim each touch on its own, so only the broken one fails."""
    try:
        with prepared_batch(ctx, ids) as prepared, transaction(ctx.engine) as session:
            return claim_touches(ctx, session, ids, prepared)
    except STORE_ERRORS:
        raise
    except Exception as exc:
        if len(ids) == 1:
            log.exception("touch %s could not be prepared", ids[0])
            with transaction(ctx.engine) as session:
                _claim_crashed(ctx, session, ids[0], f"{type(exc).__name__}: {exc}")
            return {ids[0]: "failed:error"}
    log.warning("a batch of %d touches could not be claimed at once; one by one", len(ids))
    claims: dict[int, Claimed | str] = {}
    try:
        for touch_id in ids:
            claims.update(_claim(ctx, [touch_id]))
    except STORE_ERRORS:
        # Those claimed so far are committed "sending" and will not be sent by this try.
        taken = [i for i, c in claims.items() if isinstance(c, Claimed) and c.message is not None]
        if taken:
            _with_store_retries(ctx, partial(_requeue, ctx, touch_ids=taken))
        raise
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
        except STORE_OUTAGES:
            if delay is None:
                raise
            log.warning("store connection lost while recording touches; retrying")
            time.sleep(delay)


def _record_sent_batch(ctx: AppContext, sent: Mapping[int, NextStepInputs]) -> None:
    """Record the batch in one transaction; if that breaks on something other than the store
    (a hand-over to the next cadence colliding with an enrollment made meanwhile, say),
    record each touch on its own, and one that breaks again is recorded sent with its
    enrollment paused for review, so a delivered email is never left "sending"."""
    try:
        _with_store_retries(ctx, partial(_record_sent, ctx, sent=sent))
        return
    except STORE_OUTAGES:
        raise
    except Exception:
        log.exception("recording %d sent touches at once failed; one by one", len(sent))
    for touch_id, next_step in sent.items():
        one = {touch_id: next_step}
        try:
            _with_store_retries(ctx, partial(_record_sent, ctx, sent=one))
        except STORE_OUTAGES:
            raise
        except Exception as exc:
            log.exception("touch %s: next step not planned", touch_id)
            why = f"sent, but its next step could not be planned: {type(exc).__name__}: {exc}"
            _with_store_retries(ctx, partial(_record_sent, ctx, sent=one, unplanned=why))


#: The record's statements, built once (see :mod:`cadence.store.rows`).
_MARK_SENT = (
    update(TOUCHES)
    .where(
        in_list(TOUCHES.c.id, "ids"),
        TOUCHES.c.status == TouchStatus.SENDING.value,
    )
    .values(status=TouchStatus.SENT.value, sent_at=bindparam("now"))
    .returning(
        TOUCHES.c.id,
        TOUCHES.c.enrollment_id,
        TOUCHES.c.prospect_id,
        TOUCHES.c.step,
        TOUCHES.c.message_id,
    )
)


@dataclass(frozen=True)
class _PlannedAhead:
    prospect: ProspectView
    #: The next step's touch, None after the last step (or if planning it failed).
    upcoming: dict[str, Any] | None
    failed: bool = False


def _plan_ahead(
    ctx: AppContext, session: Session, next_steps: Mapping[int, NextStepInputs], now: datetime
) -> dict[int, _PlannedAhead]:
    """Each touch's next step, planned before the record takes the enrollment locks a halt
    waits for (planned under them, it held them for its CPU and a read more): from the
    prospects as they are now (never locked by a record) and the rest as the claim read it.
    A plan that fails is made again under the locks, where it fails for a live enrollment
    only, as it always did."""
    prospects = prospect_views(session, {given.prospect_id for given in next_steps.values()})
    planned = {}
    for touch_id, given in next_steps.items():
        prospect = prospects[given.prospect_id]
        try:
            upcoming = next_touch(
                ctx.catalog.cadence(given.cadence),
                enrollment_id=given.enrollment_id,
                prospect=prospect,
                done_step=given.step,
                anchor=now,
            )
        except Exception:  # noqa: BLE001 - surfaces under the locks, if the enrollment is live
            planned[touch_id] = _PlannedAhead(prospect, None, failed=True)
        else:
            planned[touch_id] = _PlannedAhead(prospect, upcoming)
    return planned


def _record_sent(
    ctx: AppContext,
    session: Session,
    *,
    sent: Mapping[int, NextStepInputs],
    unplanned: str | None = None,
) -> None:
    """Record the sends with set-based statements: the next steps planned before any lock
    (:func:`_plan_ahead`), then the enrollments locked (as a halt locks them), one UPDATE …
    RETURNING for the touches, one executemany for their audit entries, and the next
    touches inserted together; the enrollments whose last step this was are completed (and
    handed over) together too. With ``unplanned``, the enrollments are paused for that
    reason instead of planned."""
    now = ctx.clock.now()
    connection = session.connection()
    touch_ids = list(sent)
    ids = {"ids": touch_ids}
    ahead = _plan_ahead(ctx, session, sent, now) if unplanned is None else {}
    enrollments = lock_enrollments_of_touches(session, touch_ids)
    recorded = connection.execute(_MARK_SENT, {**ids, "now": now}).all()
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
    if unplanned is not None:
        for row in live:
            paused = session.get(Enrollment, row.enrollment_id)
            assert paused is not None
            move_enrollment(session, paused, EnrollmentState.PAUSED, reason=unplanned, now=now)
        return
    planned = []
    finished = []
    for row in live:
        enrollment = enrollments[row.enrollment_id]
        plan = ahead[row.id]
        upcoming = plan.upcoming
        if plan.failed:
            upcoming = next_touch(
                ctx.catalog.cadence(enrollment.cadence),
                enrollment_id=row.enrollment_id,
                prospect=plan.prospect,
                done_step=row.step,
                anchor=now,
            )
        if upcoming is None:
            finished.append((enrollment, plan.prospect))
        else:
            planned.append(upcoming)
    if planned:
        connection.execute(INSERT_TOUCH, planned)
    complete_enrollments(session, ctx.catalog, finished, now=now)


#: Why claimed emails the worker never handed to the transport went back to the queue.
NOT_HANDED_OVER = "not sent, the worker stopped before it"


def _requeue(
    ctx: AppContext, session: Session, *, touch_ids: list[int], reason: str = NOT_HANDED_OVER
) -> None:
    """The server did not take them: safe to try again, and the broker's retry will."""
    session.execute(
        update(Touch)
        .where(col(Touch.id).in_(touch_ids), col(Touch.status) == TouchStatus.SENDING)
        .values(status=TouchStatus.QUEUED, queued_at=ctx.clock.now(), reason=f"retrying: {reason}")
        .execution_options(synchronize_session=False)
    )


def _claim_crashed(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
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


def _unconfirmed(ctx: AppContext, session: Session, *, touch_id: int, reason: str) -> None:
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


def _failed(ctx: AppContext, session: Session, *, touch_id: int, reason: str) -> None:
    touch = session.get(Touch, touch_id)
    if touch is None or touch.status != TouchStatus.SENDING:
        return
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.id == touch.enrollment_id).with_for_update()
    ).one()
    fail_touch(session, touch, enrollment, reason, ctx.clock.now(), halt=True)

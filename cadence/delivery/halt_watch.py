"""The in-flight halt watch: emails claimed and not yet handed over, watched together for
enrollments halted or paused since their claim, so a reply that lands while a batch's first
emails go out still stops the later ones."""

import itertools
import threading
import time
import weakref
from collections.abc import Sequence
from enum import Enum

from sqlalchemy import ColumnElement, Engine, and_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cadence.core.domain import EnrollmentState, TouchStatus
from cadence.core.holds import taken_back
from cadence.core.outcomes import TouchOutcome
from cadence.runtime.context import AppContext
from cadence.store.database import reading, transaction
from cadence.store.models import ENROLLMENTS, TOUCHES, Enrollment, Touch
from cadence.store.sql_lists import in_list
from cadence.store.transitions import move_touch


class _Look(Enum):
    """A look is taking the email back: its thread waits for the outcome."""

    TAKING = "taking back"


class InFlightWatch:
    """The emails a process's worker threads have claimed and not yet handed over, watched
    together for enrollments halted or paused since their claim: a reply arriving while a
    batch's first emails go out still stops the later ones, which have not left yet.

    One look every :data:`HALT_CHECK_SECONDS` covers every thread's batch (a look per thread
    grew with the thread count and took a large share of a worker's CPU). A look takes back what
    it finds; each thread asks, before each send, whether its email may still go. Emails are
    held per batch (a touch taken back, resumed and claimed again by another batch is that
    batch's), and a look's outcome is settled before anyone acts on it: dramatiq's time limit
    can raise in a thread at any moment, the looking one included."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._batches = itertools.count()
        #: (batch, touch id) → None while it may go; the reason once a look stopped it;
        #: _Look.TAKING while a look takes it back.
        self._held: dict[tuple[int, int], TouchOutcome | _Look | None] = {}
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

    def hand_over(self, ctx: AppContext, batch: int, touch_id: int) -> TouchOutcome | None:
        """None if the email may go now (it is no longer watched then); else why not:
        :data:`UNSETTLED` if a look failed while taking it back."""
        self._look_if_due(ctx)
        key = (batch, touch_id)
        with self._changed:
            if self._held.get(key) is _Look.TAKING and self._looking_since is not None:
                # Until the look settles it, or gives up: a look that never settled costs
                # its emails one wait together, not one each.
                left = LOOK_GIVES_UP_SECONDS - (time.monotonic() - self._looking_since)
                self._changed.wait_for(
                    lambda: self._held.get(key) is not _Look.TAKING, timeout=left
                )
            why = self._held.pop(key, None)
            return UNSETTLED if why is _Look.TAKING else why

    def release(self, batch: int, touch_ids: Sequence[int]) -> dict[int, TouchOutcome]:
        """Stop watching the batch; the emails a look stopped that were not asked for, with
        why (those it left unsettled are not among them: they go back to the queue)."""
        with self._changed:
            found = {touch_id: self._held.pop((batch, touch_id), None) for touch_id in touch_ids}
        return {
            i: why
            for i, why in found.items()
            if isinstance(why, TouchOutcome) and why is not UNSETTLED
        }

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
            self._held.update(dict.fromkeys(taken, _Look.TAKING))
        if not taken:  # all handed over since the read
            return
        stopped: dict[int, TouchOutcome] | None = None
        try:
            with transaction(ctx.engine) as session:
                found = stop_halted(ctx, session, list({touch_id for _, touch_id in taken}))
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
UNSETTLED = TouchOutcome.RETRYING


#: A look taking longer is treated as failed: its emails go back to the queue, and another
#: look may start. Longer than a take-back can wait for SQLite's write lock (its busy
#: timeout, set in :mod:`cadence.store.database`).
LOOK_GIVES_UP_SECONDS = 90.0


_IN_FLIGHT: "weakref.WeakKeyDictionary[Engine, InFlightWatch]" = weakref.WeakKeyDictionary()


_IN_FLIGHT_LOCK = threading.Lock()


def in_flight_watch(ctx: AppContext) -> InFlightWatch:
    """The process's watch over the emails in hand, one per store."""
    with _IN_FLIGHT_LOCK:
        found = _IN_FLIGHT.get(ctx.engine)
        if found is None:
            found = _IN_FLIGHT[ctx.engine] = InFlightWatch()
        return found


#: How often a worker sending a batch looks for enrollments halted since its claim.
HALT_CHECK_SECONDS = 0.1


#: The look itself: a read without locks, as nearly every look finds nothing (a locking read
#: in a transaction of its own costs several times the CPU, and takes SQLite's write lock); what it
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


def stop_halted(ctx: AppContext, session: Session, touch_ids: list[int]) -> dict[int, TouchOutcome]:
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
        status, why = taken_back(enrollment.state)
        move_touch(session, touch, status, reason=why, now=ctx.clock.now())
        stopped[touch.id] = TouchOutcome.enrollment_stopped(EnrollmentState(enrollment.state))
    return stopped

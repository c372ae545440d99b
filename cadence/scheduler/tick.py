"""The scheduler's tick (Procfile ``scheduler``): claim what is due and enqueue it, resume
out-of-office pauses, re-send lost messages, flag crashed sends, and pause the mailboxes
whose bounces or complaints pass the deliverability guard's limits."""

import logging
from collections.abc import Callable, Sequence

from cadence.runtime.context import AppContext
from cadence.scheduler.due_touches import (
    claim_due,
    mark_unconfirmed,
    stale_queued,
    tick_work,
    unclaim,
)
from cadence.scheduler.resumes import resume_due
from cadence.sequences.mailbox_guard import pause_over_limits
from cadence.store.database import is_postgres, reading, transaction

log = logging.getLogger(__name__)


def scheduler_tick(ctx: AppContext, enqueue: Callable[[Sequence[int]], None]) -> int:
    """Claim every due touch in batches and hand their ids to ``enqueue``; also recover
    touches lost on the way (re-enqueued) and flag crashed sends (unconfirmed).

    Claims commit before enqueueing: a crash in between leaves ``queued`` rows that the
    stale sweep re-sends, never an email sent twice (workers compare-and-set).
    """
    now = ctx.clock.now()
    batch = ctx.settings.claim_batch_size
    total = 0
    with reading(ctx.engine) as connection:
        work = tick_work(connection, now=now)
    stale: list[int] = []
    unconfirmed = 0
    if work.sweep:
        with transaction(ctx.engine) as session:
            stale = stale_queued(session, now=now, limit=batch)
            unconfirmed = mark_unconfirmed(session, now=now)
    # Apart from the sweeps: they hold touch rows, and resuming waits for enrollment rows,
    # the reverse of the order a worker locks them in (a deadlock on PostgreSQL).
    resumed: list[int] = []
    if work.resume:
        with transaction(ctx.engine) as session:
            resumed = resume_due(session, ctx.catalog, now=now)
    if resumed:
        log.info("resumed %d enrollments after out-of-office", len(resumed))
    # Before the claims: a mailbox the guard pauses now holds this tick's emails back.
    if work.guard:
        pause_over_limits(ctx)
    if stale:
        log.warning("re-enqueueing %d touches queued but never picked up", len(stale))
        enqueue(stale)
    if unconfirmed:
        log.warning("%d touches left mid-send are now unconfirmed", unconfirmed)
    while True:
        with transaction(ctx.engine) as session:
            ids = claim_due(session, now=now, limit=batch, skip_locked=is_postgres(ctx.engine))
        if ids:
            try:
                enqueue(ids)
            except Exception:
                # The broker is down: give the batch back now rather than strand it for the
                # stale sweep (and count a loss against each touch).
                with transaction(ctx.engine) as session:
                    unclaim(session, ids)
                raise
            total += len(ids)
        if len(ids) < batch:
            return total

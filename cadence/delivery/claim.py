"""Claiming touches: check each may start now, render it, and either issue its task or
compose its email with the touch moved to ``sending``, under its enrollment's lock, in the
caller's transaction, which commits before anything leaves.

A worker claims a batch of touches in one transaction: the rows each check reads (touches,
enrollments, prospects, suppressions, mailbox counters) are read once for the batch, so a
claim costs a few statements and one commit per batch, not per touch.

A claim holds its enrollments' locks, which a reply's halt waits for, so on PostgreSQL
the batch is prepared before the claim begins (:func:`prepared_batch`): read without locks,
checked, rendered and composed, and its emails' sends reserved by one statement committed
at once (:class:`Reservation`). Under its locks the claim uses what was prepared for every
touch whose rows are unchanged, and checks and renders the rest as before; a mailbox that
could not reserve its sends has its counter row locked last. Rendering under the locks, a
claim held them for as long as its thread waited for the interpreter between its reads,
renders and writes (replies waited on it under load);
locking every counter row first made a team's claims render one batch after another, each
waiting for all those queued before it.
"""

import logging
from collections.abc import Sequence

from sqlmodel import Session

from cadence.core.domain import (
    EnrollmentState,
    TouchStatus,
)
from cadence.core.holds import taken_back
from cadence.core.outcomes import TouchOutcome
from cadence.delivery.claim_writes import (
    ClaimWrites,
    issue_task,
    record_not_now,
    start_email,
    start_if_allowed,
)
from cadence.delivery.claimed import Claimed
from cadence.delivery.preparation import (
    ComposedEmail,
    NotNow,
    ReadyTask,
    attempts_for,
    claimable,
)
from cadence.delivery.prepared import PreparedBatch
from cadence.delivery.send_limits import MailboxAllowance
from cadence.runtime.context import AppContext
from cadence.store.models import Touch
from cadence.store.rows import (
    locked_touch_views,
    model_of,
)

log = logging.getLogger(__name__)


def claim_touches(
    ctx: AppContext,
    session: Session,
    touch_ids: Sequence[int],
    prepared: PreparedBatch,
) -> dict[int, Claimed | TouchOutcome]:
    """For each touch: check, render and move it to ``sending`` (or issue its task); else
    say why not. Every touch of the batch shares the caller's transaction. A touch whose
    rows are as :func:`prepared_batch` read them takes what was prepared; the others are
    checked and rendered here. An email starts with a send reserved for it ahead, or taken
    from its mailbox's counters, locked then."""
    reservation = prepared.reservation
    now = reservation.now
    found = locked_touch_views(session, touch_ids)
    outcomes: dict[int, Claimed | TouchOutcome] = {}
    for touch_id in touch_ids:
        if touch_id not in found:
            outcomes[touch_id] = TouchOutcome.SKIPPED_UNKNOWN_TOUCH
            continue
        touch, enrollment = found[touch_id]
        if touch.status != TouchStatus.QUEUED:
            outcomes[touch_id] = TouchOutcome.no_longer_queued(TouchStatus(touch.status))
        elif enrollment.state != EnrollmentState.ACTIVE:
            model = model_of(session, Touch, touch_id)
            model.status, model.reason = taken_back(enrollment.state)
            session.add(model)
            outcomes[touch_id] = TouchOutcome.enrollment_stopped(EnrollmentState(enrollment.state))
    startable = claimable(found[i] for i in touch_ids if i in found)
    if not startable:
        return outcomes
    reused: dict[int, ComposedEmail | ReadyTask] = {}
    for touch, enrollment in startable:
        assert touch.id is not None
        if (ready := prepared.reusable_for(touch, enrollment)) is not None:
            reused[touch.id] = ready
    stale = [(t, e) for t, e in startable if t.id not in reused]
    attempts: dict[int, ComposedEmail | ReadyTask | NotNow] = {
        **attempts_for(ctx, session, stale, now),
        **reused,
    }
    writes = ClaimWrites()
    composed: list[ComposedEmail] = []
    with session.no_autoflush:
        for touch, _ in startable:
            assert touch.id is not None
            touch_id, attempt = touch.id, attempts[touch.id]
            if isinstance(attempt, ComposedEmail):
                composed.append(attempt)
            elif isinstance(attempt, ReadyTask):
                outcomes[touch_id] = issue_task(attempt.work, attempt.rendered, writes)
            else:
                outcomes[touch_id] = record_not_now(ctx, session, attempt, writes)
    reserved = {c.touch_id for c in composed if reservation.take(c.work.sender)}
    unreserved = [c for c in composed if c.touch_id not in reserved]
    allowance = MailboxAllowance.lock(session, [c.work.sender.name for c in unreserved], now.date())
    for email in composed:
        if email.touch_id in reserved:
            outcomes[email.touch_id] = start_email(email, writes)
        else:
            outcomes[email.touch_id] = start_if_allowed(allowance, email, writes)
    writes.write(session, ctx.catalog, now=now)
    allowance.save(session)
    return outcomes

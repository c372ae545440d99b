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

import logging
from collections.abc import Sequence
from functools import partial

from cadence.core.errors import (
    MailboxUnavailable,
    MailServerUnavailable,
    TransientDeliveryError,
)
from cadence.core.outcomes import TouchOutcome
from cadence.delivery.claim import claim_touches
from cadence.delivery.claimed import Claimed, NextStepInputs
from cadence.delivery.halt_watch import UNSETTLED, in_flight_watch
from cadence.delivery.mailbox_stops import hold_back, mark_working
from cadence.delivery.prepared import prepared_batch
from cadence.delivery.record import record_sent_batch
from cadence.delivery.send_outcomes import (
    STORE_ERRORS,
    fail_crashed_claim,
    flag_unconfirmed,
    requeue,
    send_email,
    with_store_retries,
)
from cadence.runtime.context import AppContext
from cadence.store.database import transaction

log = logging.getLogger(__name__)


def deliver_touch(ctx: AppContext, touch_id: int) -> TouchOutcome:
    """:func:`deliver_touches` for one touch; returns its word."""
    return deliver_touches(ctx, [touch_id])[touch_id]


def deliver_touches(ctx: AppContext, touch_ids: Sequence[int]) -> dict[int, TouchOutcome]:
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
    outcomes: dict[int, TouchOutcome] = {}
    emails: list[tuple[int, Claimed]] = []
    for touch_id in ids:
        claim = claims[touch_id]
        if not isinstance(claim, Claimed):
            outcomes[touch_id] = claim
        elif claim.message is None:
            outcomes[touch_id] = TouchOutcome.TASK_ISSUED
        else:
            emails.append((touch_id, claim))
    sent: dict[int, NextStepInputs] = {}
    handed_over: set[int] = set()
    transient: TransientDeliveryError | None = None
    #: SDR mailboxes that refused the login or could not be reached, and the emails of
    #: theirs that wait for them (touch id → mailbox); the other mailboxes' go on.
    refused: dict[str, MailboxUnavailable] = {}
    waiting: dict[int, str] = {}
    in_flight = in_flight_watch(ctx)
    batch = in_flight.hold([touch_id for touch_id, _ in emails])
    try:
        for touch_id, claim in emails:
            stopped = in_flight.hand_over(ctx, batch, touch_id)
            if stopped is not None:
                if stopped != UNSETTLED:  # else back to "queued" below, with the untried
                    outcomes[touch_id] = stopped
                continue
            if claim.mailbox in refused:
                waiting[touch_id], outcomes[touch_id] = claim.mailbox, TouchOutcome.SKIPPED_MAILBOX
                continue
            handed_over.add(touch_id)
            try:
                outcomes[touch_id] = send_email(ctx, touch_id, claim)
            except MailboxUnavailable as exc:
                refused[exc.mailbox], waiting[touch_id] = exc, exc.mailbox
                outcomes[touch_id] = TouchOutcome.SKIPPED_MAILBOX
                log.warning("touch %s waits: %s", touch_id, exc)
            except MailServerUnavailable as exc:
                transient, outcomes[touch_id] = exc, TouchOutcome.RETRYING
                break
            except TransientDeliveryError as exc:
                transient, outcomes[touch_id] = exc, TouchOutcome.RETRYING
            except Exception as exc:
                log.exception("transport raised on touch %s", touch_id)
                why = f"transport raised {type(exc).__name__}: {exc}"
                with_store_retries(
                    ctx, partial(flag_unconfirmed, ctx, touch_id=touch_id, reason=why)
                )
                raise
            if outcomes[touch_id] is TouchOutcome.SENT:
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
                with_store_retries(ctx, partial(requeue, ctx, touch_ids=untried))
                outcomes.update(dict.fromkeys(untried, TouchOutcome.RETRYING))
            if refused:
                with_store_retries(ctx, partial(hold_back, ctx, refused=refused, waiting=waiting))
        finally:
            if sent:
                # The server has the messages: a dropped store connection (or the requeue
                # failing) must not make them unconfirmed.
                record_sent_batch(ctx, sent)
    working = {
        c.mailbox
        for i, c in emails
        if c.mailbox and c.probing and outcomes.get(i) is TouchOutcome.SENT
    }
    if working:
        with_store_retries(ctx, partial(mark_working, ctx, owners=working))
    if transient is not None:
        raise transient
    return outcomes


def _claim(ctx: AppContext, ids: list[int]) -> dict[int, Claimed | TouchOutcome]:
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
                fail_crashed_claim(ctx, session, ids[0], f"{type(exc).__name__}: {exc}")
            return {ids[0]: TouchOutcome.FAILED_ERROR}
    log.warning("a batch of %d touches could not be claimed at once; one by one", len(ids))
    claims: dict[int, Claimed | TouchOutcome] = {}
    try:
        for touch_id in ids:
            claims.update(_claim(ctx, [touch_id]))
    except STORE_ERRORS:
        # Those claimed so far are committed "sending" and will not be sent by this try.
        taken = [i for i, c in claims.items() if isinstance(c, Claimed) and c.message is not None]
        if taken:
            with_store_retries(ctx, partial(requeue, ctx, touch_ids=taken))
        raise
    return claims

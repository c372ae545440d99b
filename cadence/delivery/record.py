"""Recording a batch's sent emails: ``sent``, their audit entries and each next step, planned
before the record takes the enrollment locks a halt waits for."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import Session

from cadence.core.domain import LIVE_ENROLLMENT_STATES, EnrollmentState, TouchStatus
from cadence.delivery.claimed import NextStepInputs
from cadence.delivery.send_outcomes import STORE_OUTAGES, with_store_retries
from cadence.runtime.context import AppContext
from cadence.sequences.progress import complete_enrollments
from cadence.sequences.touch_plans import INSERT_TOUCH, next_touch
from cadence.store.audit_log import audit_row, record_audits
from cadence.store.models import TOUCHES, Enrollment
from cadence.store.rows import (
    ProspectView,
    lock_enrollments_of_touches,
    prospect_views,
)
from cadence.store.sql_lists import in_list
from cadence.store.transitions import move_enrollment

log = logging.getLogger(__name__)


def record_sent_batch(ctx: AppContext, sent: Mapping[int, NextStepInputs]) -> None:
    """Record the batch in one transaction; if that breaks on something other than the store
    (a hand-over to the next cadence colliding with an enrollment made meanwhile, say),
    record each touch on its own, and one that breaks again is recorded sent with its
    enrollment paused for review, so a delivered email is never left "sending"."""
    try:
        with_store_retries(ctx, partial(_record_sent, ctx, sent=sent))
        return
    except STORE_OUTAGES:
        raise
    except Exception:
        log.exception("recording %d sent touches at once failed; one by one", len(sent))
    for touch_id, next_step in sent.items():
        one = {touch_id: next_step}
        try:
            with_store_retries(ctx, partial(_record_sent, ctx, sent=one))
        except STORE_OUTAGES:
            raise
        except Exception as exc:
            log.exception("touch %s: next step not planned", touch_id)
            why = f"sent, but its next step could not be planned: {type(exc).__name__}: {exc}"
            with_store_retries(ctx, partial(_record_sent, ctx, sent=one, unplanned=why))


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

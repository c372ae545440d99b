"""After a step is done: plan the next one, or complete the enrollment and hand the prospect
over to the cadence's ``on_complete``."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import Session

from cadence.authoring.catalog import Catalog
from cadence.core.domain import (
    LIVE_ENROLLMENT_STATES,
    EnrollmentState,
)
from cadence.core.planning import contact_block, step_done_at
from cadence.sequences.enrollment import EnrollmentStart, live_in, start_enrollments
from cadence.sequences.touch_plans import next_touch
from cadence.store.audit_log import SYSTEM, record_audits
from cadence.store.models import (
    ENROLLMENTS,
    Enrollment,
    Touch,
)
from cadence.store.rows import (
    EnrollmentView,
    ProspectView,
    TouchView,
)
from cadence.store.suppressions import suppression_reasons
from cadence.store.transitions import enrollment_moved


def advance(
    session: Session,
    catalog: Catalog,
    *,
    enrollment: Enrollment,
    prospect: ProspectView,
    done: TouchView,
    now: datetime,
) -> Touch | None:
    """After ``done`` finished, plan the next step or complete the enrollment.

    A task step does not hold the cadence back: the next step counts from the task's due time;
    an email's next step counts from when it was sent.
    """
    # A pause that lands while a touch is sending must not lose the rest of the cadence:
    # the next touch is planned, and waits for the resume like any other.
    if enrollment.state not in LIVE_ENROLLMENT_STATES:
        return None
    cadence = catalog.cadence(enrollment.cadence)
    assert enrollment.id is not None and prospect.id is not None
    anchor = step_done_at(channel=done.channel, due_at=done.due_at, sent_at=done.sent_at)
    planned = next_touch(
        cadence, enrollment_id=enrollment.id, prospect=prospect, done_step=done.step, anchor=anchor
    )
    if planned is not None:
        touch = Touch(**planned)
        session.add(touch)
        return touch
    session.flush()  # the enrollment's pending changes first: it is written set-based
    complete_enrollments(session, catalog, [(enrollment, prospect)], now=now)
    session.expire(enrollment)
    return None


#: Why an enrollment whose every step is done ends.
ALL_STEPS_DONE = "all steps done, no reply"


def complete_enrollments(
    session: Session,
    catalog: Catalog,
    finished: Sequence[tuple[EnrollmentView, ProspectView]],
    *,
    now: datetime,
) -> None:
    """Complete the live enrollments whose last step is done, and hand each over to its
    cadence's ``on_complete`` where the prospect may still be contacted and is not live in
    that cadence already; a few statements for a whole batch, not several each."""
    done = [(e, p) for e, p in finished if e.state in LIVE_ENROLLMENT_STATES]
    if not done:
        return
    session.connection().execute(
        _COMPLETE_ENROLLMENT,
        [{"enrollment_id": e.id, "now": now} for e, _ in done],
    )
    record_audits(
        session,
        [
            enrollment_moved(e, EnrollmentState.COMPLETED, reason=ALL_STEPS_DONE, now=now)
            for e, _ in done
        ],
    )
    by_cadence: dict[str, list[tuple[EnrollmentView, ProspectView]]] = {}
    for enrollment, prospect in done:
        by_cadence.setdefault(enrollment.cadence, []).append((enrollment, prospect))
    for name, pairs in by_cadence.items():
        handover = catalog.cadence(name).on_complete
        if not handover:
            continue
        suppressed = suppression_reasons(session, [p.email for _, p in pairs])
        contactable = [
            (e, p) for e, p in pairs if not contact_block(p) and p.email not in suppressed
        ]
        # Seen after any hand-over an earlier group made in this transaction.
        live = live_in(session, [p.id for _, p in contactable if p.id is not None], handover)
        start_enrollments(
            session,
            cadence=catalog.cadence(handover),
            starts=[EnrollmentStart(p, e.owner) for e, p in contactable if p.id not in live],
            now=now,
            actor=SYSTEM,
            reason=f"handed over from {name} with no reply",
        )


_COMPLETE_ENROLLMENT = (
    update(ENROLLMENTS)
    .where(ENROLLMENTS.c.id == bindparam("enrollment_id"))
    .values(
        state=EnrollmentState.COMPLETED.value, reason=ALL_STEPS_DONE, updated_at=bindparam("now")
    )
)

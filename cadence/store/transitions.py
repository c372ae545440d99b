"""State changes of touches and enrollments, each with its audit entry (invariant 4).

Every place that moves a touch or an enrollment to another state goes through here, so no
change can skip the audit trail.
"""

from datetime import datetime
from typing import Any

from sqlmodel import Session

from cadence.core.domain import EnrollmentState, TouchStatus
from cadence.store.audit_log import SYSTEM, audit_row, record_audit, record_audits
from cadence.store.models import Enrollment, Touch
from cadence.store.rows import EnrollmentView


def move_touch(
    session: Session,
    touch: Touch,
    status: TouchStatus,
    *,
    reason: str | None,
    now: datetime,
    actor: str = SYSTEM,
) -> None:
    before = touch.status
    touch.status = status
    touch.reason = reason
    session.add(touch)
    record_audit(
        session,
        at=now,
        actor=actor,
        action=f"touch:{status.value}",
        prospect_id=touch.prospect_id,
        enrollment_id=touch.enrollment_id,
        touch_id=touch.id,
        before=before,
        after=status.value,
        reason=reason,
    )


def move_enrollment(
    session: Session,
    enrollment: Enrollment,
    state: EnrollmentState,
    *,
    reason: str,
    now: datetime,
    actor: str = SYSTEM,
) -> None:
    entry = enrollment_moved(enrollment, state, reason=reason, now=now, actor=actor)
    enrollment.state = state
    enrollment.reason = reason
    enrollment.updated_at = now
    session.add(enrollment)
    record_audits(session, [entry])


def enrollment_moved(
    enrollment: EnrollmentView,
    state: EnrollmentState,
    *,
    reason: str,
    now: datetime,
    actor: str = SYSTEM,
) -> dict[str, Any]:
    """The audit entry of ``enrollment`` moving from its current state to ``state``, for a
    caller that writes the change itself (a batch of them as rows)."""
    return audit_row(
        at=now,
        actor=actor,
        action=state.value,
        prospect_id=enrollment.prospect_id,
        enrollment_id=enrollment.id,
        before=enrollment.state,
        after=state.value,
        reason=reason,
    )


def fail_touch(
    session: Session,
    touch: Touch,
    enrollment: Enrollment,
    reason: str,
    now: datetime,
    *,
    pause: bool = False,
    halt: bool = False,
) -> None:
    """Fail the touch; a render error pauses the enrollment for a person to fix the template,
    a refused address halts it."""
    move_touch(session, touch, TouchStatus.FAILED, reason=reason, now=now)
    if pause or halt:
        state = EnrollmentState.PAUSED if pause else EnrollmentState.HALTED
        move_enrollment(
            session, enrollment, state, reason=f"touch {touch.step} failed: {reason}", now=now
        )

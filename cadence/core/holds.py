"""Whether a claimed touch may start now, and where one goes that may not.

Pure: the claim reads the rows (the touch, its prospect, the suppression list) and applies
what these rules say under its locks. The send limits are checked last, by the mailbox's
allowance (:mod:`cadence.core.send_allowance`)."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import EnrollmentState, SendWindow, TouchStatus
from cadence.core.outcomes import TouchOutcome
from cadence.core.planning import ProspectFacts, contact_block
from cadence.core.scheduling import is_open

#: Attempts at a touch whose sends keep failing transiently before it is marked failed.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Hold:
    """Why a touch does not start now: the outcome says what becomes of it."""

    outcome: TouchOutcome
    reason: str | None


def why_held(
    *,
    now: datetime,
    window: SendWindow,
    zone: ZoneInfo,
    calendar: BusinessCalendar | None,
    prospect: ProspectFacts,
    suppressed: str | None,
    attempts: int,
    last_reason: str | None,
) -> Hold | None:
    """Outside its window (rescheduled), the prospect not contactable (skipped, the
    enrollment halted), or out of attempts (failed); else None."""
    if not is_open(now, window, zone, calendar):
        return Hold(TouchOutcome.SKIPPED_OUTSIDE_WINDOW, last_reason)
    blocked = contact_block(prospect) or suppressed
    if blocked:
        return Hold(TouchOutcome.SKIPPED_NOT_CONTACTABLE, blocked)
    if attempts >= MAX_ATTEMPTS:
        why = f"gave up after {attempts} attempts: {last_reason or 'transient errors'}"
        return Hold(TouchOutcome.FAILED, why)
    return None


def taken_back(state: EnrollmentState | str) -> tuple[TouchStatus, str | None]:
    """Where a touch goes whose enrollment stopped being active before it left: back to
    scheduled for after a pause's resume; cancelled, never sent, when stopped."""
    if state == EnrollmentState.PAUSED:
        return TouchStatus.SCHEDULED, None
    return TouchStatus.CANCELLED, f"enrollment {state}"

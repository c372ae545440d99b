"""The hold rule: whether a claimed touch may start now, tried with a table of cases."""

from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import EnrollmentState, SendWindow, TouchStatus
from cadence.core.holds import MAX_ATTEMPTS, Hold, taken_back, why_held
from cadence.core.outcomes import TouchOutcome

NY = ZoneInfo("America/New_York")
MORNING = SendWindow(start=time(7, 30), end=time(9, 30))
#: Tuesday 2026-12-08, 08:00 in New York.
IN_WINDOW = datetime(2026, 12, 8, 13, 0, tzinfo=UTC)
#: The same Tuesday, 12:00 in New York.
AFTER_WINDOW = datetime(2026, 12, 8, 17, 0, tzinfo=UTC)
#: Friday 2026-12-25, 08:00 in New York: Christmas.
CHRISTMAS = datetime(2026, 12, 25, 13, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Prospect:
    email: str = "dana@hooli.example"
    timezone: str = "America/New_York"
    country: str | None = "US"
    do_not_contact: bool = False
    email_status: str = "valid"


@pytest.mark.parametrize(
    ("now", "prospect", "suppressed", "attempts", "calendar", "expected"),
    [
        (IN_WINDOW, Prospect(), None, 0, True, None),
        (AFTER_WINDOW, Prospect(), None, 0, True, TouchOutcome.SKIPPED_OUTSIDE_WINDOW),
        (CHRISTMAS, Prospect(), None, 0, True, TouchOutcome.SKIPPED_OUTSIDE_WINDOW),
        (CHRISTMAS, Prospect(), None, 0, False, None),  # business_days off: holidays count
        (IN_WINDOW, Prospect(do_not_contact=True), None, 0, True, "marked do-not-contact"),
        (IN_WINDOW, Prospect(email_status="invalid"), None, 0, True, "address is invalid"),
        (IN_WINDOW, Prospect(), "unsubscribed", 0, True, "unsubscribed"),
        (IN_WINDOW, Prospect(), None, MAX_ATTEMPTS - 1, True, None),
        (IN_WINDOW, Prospect(), None, MAX_ATTEMPTS, True, TouchOutcome.FAILED),
        # The window is checked first: a blocked prospect outside it waits for the window.
        (AFTER_WINDOW, Prospect(do_not_contact=True), None, 0, True, "outside"),
    ],
)
def test_why_held(
    now: datetime,
    prospect: Prospect,
    suppressed: str | None,
    attempts: int,
    calendar: bool,
    expected: TouchOutcome | str | None,
) -> None:
    hold = why_held(
        now=now,
        window=MORNING,
        zone=NY,
        calendar=BusinessCalendar("US") if calendar else None,
        prospect=prospect,
        suppressed=suppressed,
        attempts=attempts,
        last_reason="smtp 451",
    )
    if expected is None:
        assert hold is None
    elif expected == "outside":
        assert hold == Hold(TouchOutcome.SKIPPED_OUTSIDE_WINDOW, "smtp 451")
    elif isinstance(expected, TouchOutcome) and expected is TouchOutcome.FAILED:
        assert hold == Hold(TouchOutcome.FAILED, f"gave up after {attempts} attempts: smtp 451")
    elif isinstance(expected, TouchOutcome):
        assert hold is not None and hold.outcome is expected
    else:
        assert hold == Hold(TouchOutcome.SKIPPED_NOT_CONTACTABLE, expected)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (EnrollmentState.PAUSED, (TouchStatus.SCHEDULED, None)),
        (EnrollmentState.HALTED, (TouchStatus.CANCELLED, "enrollment halted")),
        (EnrollmentState.COMPLETED, (TouchStatus.CANCELLED, "enrollment completed")),
        ("halted", (TouchStatus.CANCELLED, "enrollment halted")),
    ],
)
def test_a_touch_taken_back(state: EnrollmentState | str, expected: object) -> None:
    assert taken_back(state) == expected


@pytest.mark.parametrize("status", [s for s in TouchStatus if s is not TouchStatus.QUEUED])
def test_every_status_but_queued_has_its_outcome_word(status: TouchStatus) -> None:
    assert TouchOutcome.no_longer_queued(status) == f"skipped:{status.value}"


@pytest.mark.parametrize("state", [s for s in EnrollmentState if s is not EnrollmentState.ACTIVE])
def test_every_enrollment_state_has_its_outcome_word(state: EnrollmentState) -> None:
    assert TouchOutcome.enrollment_stopped(state) == f"skipped:enrollment-{state.value}"

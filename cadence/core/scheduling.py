"""When each touch is due: a pure function of the cadence, the previous touch, the prospect's
time zone and calendar, and a per-enrollment jitter key.

All instants in and out are timezone-aware; results are in UTC. Local wall-clock times are
built with ``zoneinfo`` so DST changes keep "07:30 local" at 07:30 local.
"""

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import CadenceDefinition, SendWindow, Step
from cadence.core.errors import CadenceError

#: The longest we search for an open slot before declaring the window impossible.
_SEARCH_DAYS = 400
#: Jitter never exceeds this, so a window of several hours still starts near its opening.
MAX_JITTER = timedelta(minutes=45)
#: Nothing is planned in the last minutes of a window: the scheduler's tick and the queue get
#: that long to start the touch while the window is still open.
START_MARGIN = timedelta(minutes=15)


def start_margin(window: SendWindow) -> timedelta:
    return min(START_MARGIN, window.length / 4)


class NoSendSlotError(CadenceError, ValueError):
    """The window never opens (for example only on days that are always holidays)."""


def add_business_days(day: date, count: int, calendar: BusinessCalendar) -> date:
    """The date ``count`` business days after ``day`` (``day`` itself never counts)."""
    current = day
    remaining = count
    while remaining > 0:
        current += timedelta(days=1)
        if calendar.is_business_day(current):
            remaining -= 1
    return current


def jitter_for(key: str, window: SendWindow) -> timedelta:
    """A stable offset into the window, so a batch of emails does not leave on the same minute.

    Derived from ``key`` (enrollment and step), so re-planning gives the same answer.
    """
    room = min(MAX_JITTER, window.length - start_margin(window) - timedelta(minutes=1))
    if room <= timedelta(0):
        return timedelta(0)
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return timedelta(seconds=digest % int(room.total_seconds()))


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at wall-clock ``at`` in ``zone``, in UTC; a time skipped by DST moves forward."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def next_slot(
    earliest: datetime,
    window: SendWindow,
    zone: ZoneInfo,
    calendar: BusinessCalendar | None,
    jitter: timedelta = timedelta(0),
) -> datetime:
    """The first instant at or after ``earliest`` inside ``window`` (less its start margin)
    on an allowed day.

    ``calendar`` None means holidays do not matter (only the window's days do).
    """
    local_day = earliest.astimezone(zone).date()
    for offset in range(_SEARCH_DAYS):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        if calendar is not None and calendar.holiday_name(day) is not None:
            continue
        opens = local_instant(day, window.start, zone) + jitter
        closes = local_instant(day, window.end, zone) - start_margin(window)
        candidate = max(earliest, opens)
        # The wall-clock check catches a window edge that falls in an hour DST skips.
        if candidate < closes and is_open(candidate, window, zone, None):
            return candidate.astimezone(UTC)
    raise NoSendSlotError(f"no send slot within {_SEARCH_DAYS} days of {earliest.isoformat()}")


def plan_due_at(
    *,
    anchor: datetime,
    step: Step,
    cadence: CadenceDefinition,
    zone: ZoneInfo,
    calendar: BusinessCalendar,
    jitter_key: str,
) -> datetime:
    """When ``step`` is due, counting its delay from ``anchor`` (the previous touch, or the
    enrollment for step 1), then moving into the step's send window.

    Day delays keep the anchor's local time of day and count business days when the cadence
    says so; hour and minute delays are exact durations.
    """
    if anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware")
    window = cadence.window_for(step)
    if step.delay.days:
        local = anchor.astimezone(zone)
        if cadence.business_days:
            day = add_business_days(local.date(), step.delay.days, calendar)
        else:
            day = local.date() + timedelta(days=step.delay.days)
        earliest = local_instant(day, local.time().replace(tzinfo=None), zone)
    else:
        earliest = anchor.astimezone(UTC) + step.delay.duration  # exact, whatever the zone
    holiday_calendar = calendar if cadence.business_days else None
    return next_slot(earliest, window, zone, holiday_calendar, jitter_for(jitter_key, window))


def is_open(
    instant: datetime, window: SendWindow, zone: ZoneInfo, calendar: BusinessCalendar | None
) -> bool:
    """Whether a touch may start at ``instant``: an allowed day, inside the window."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware instant")
    local = instant.astimezone(zone)
    if local.weekday() not in window.days:
        return False
    if calendar is not None and calendar.holiday_name(local.date()) is not None:
        return False
    return window.start <= local.time().replace(tzinfo=None) < window.end

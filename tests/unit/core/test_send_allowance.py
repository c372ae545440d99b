"""The cap and throttle rule on one mailbox's counters, tried with a table of cases."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from cadence.core.send_allowance import THROTTLE_WINDOW, SendLimit, take_send

NOW = datetime(2026, 12, 7, 10, 0, 30, tzinfo=UTC)
TODAY = date(2026, 12, 7)


@dataclass
class Counter:
    started: int = 0
    window_started_at: datetime | None = None
    window_sent: int = 0
    owner: str = "alex"
    day: date = TODAY


@dataclass(frozen=True)
class Limits:
    email: str = "alex@brightwave.example"
    daily_cap: int = 10
    per_minute: int = 2


MINUTE_AGO = NOW - timedelta(seconds=20)


@pytest.mark.parametrize(
    ("counter", "limited", "after"),
    [
        # A fresh day: counted, a new throttle minute starts now.
        (Counter(), None, Counter(1, NOW, 1)),
        # Inside a minute with room left.
        (Counter(3, MINUTE_AGO, 1), None, Counter(4, MINUTE_AGO, 2)),
        # The minute is full: wait for its end, nothing counted.
        (
            Counter(3, MINUTE_AGO, 2),
            SendLimit("2 emails a minute for alex@brightwave.example reached",
                      MINUTE_AGO + THROTTLE_WINDOW),
            Counter(3, MINUTE_AGO, 2),
        ),
        # The minute is over: a new one starts now.
        (Counter(3, NOW - THROTTLE_WINDOW, 2), None, Counter(4, NOW, 1)),
        # The day's cap: wait for the next UTC day.
        (
            Counter(10, None, 0),
            SendLimit("daily cap of 10 emails for alex@brightwave.example reached",
                      datetime(2026, 12, 8, tzinfo=UTC)),
            Counter(10, None, 0),
        ),
    ],
)  # fmt: skip
def test_take_send(counter: Counter, limited: SendLimit | None, after: Counter) -> None:
    assert take_send(counter, Limits(), now=NOW) == limited
    assert counter == after


def test_the_throttle_is_checked_before_the_cap() -> None:
    counter = Counter(10, MINUTE_AGO, 2)
    limited = take_send(counter, Limits(), now=NOW)
    assert limited is not None and limited.not_before == MINUTE_AGO + THROTTLE_WINDOW

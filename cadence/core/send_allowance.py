"""The per-mailbox send limits as a rule: a daily cap and a per-minute throttle.

A touch over a limit is never dropped: it moves to the next moment the limit allows (the
next UTC day for the cap, the end of the throttle's minute). The throttle's minute starts
with the first email after the previous minute ended: at most ``per_minute`` emails start
inside it. The store's counters apply this rule one send at a time
(:class:`cadence.delivery.send_limits.MailboxAllowance`) or, ahead of a claim, as one SQL
statement that counts exactly as this does
(:class:`cadence.delivery.send_limits.Reservation`)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

THROTTLE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class SendLimit:
    reason: str
    not_before: datetime


class MailboxCounter(Protocol):
    """One mailbox's counters for a UTC day: a :class:`MailboxDay` row, or its copy."""

    owner: str
    day: date
    started: int
    window_started_at: datetime | None
    window_sent: int


class MailboxLimits(Protocol):
    """What the rule reads of a sending mailbox (an SDR of the team)."""

    @property
    def email(self) -> object: ...
    @property
    def daily_cap(self) -> int: ...
    @property
    def per_minute(self) -> int: ...


def take_send(
    counter: MailboxCounter, mailbox: MailboxLimits, *, now: datetime
) -> SendLimit | None:
    """Count one send on ``counter`` if the mailbox may send at ``now`` (None), else say
    which limit stops it and until when (the counter is left as it was)."""
    window_start = counter.window_started_at
    if window_start is None or now >= window_start + THROTTLE_WINDOW:
        window_start, window_sent = now, 0
    else:
        window_sent = counter.window_sent
    if window_sent >= mailbox.per_minute:
        return SendLimit(
            f"{mailbox.per_minute} emails a minute for {mailbox.email} reached",
            window_start + THROTTLE_WINDOW,
        )
    if counter.started >= mailbox.daily_cap:
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return SendLimit(
            f"daily cap of {mailbox.daily_cap} emails for {mailbox.email} reached",
            day_start + timedelta(days=1),
        )
    counter.started += 1
    counter.window_started_at = window_start
    counter.window_sent = window_sent + 1
    return None

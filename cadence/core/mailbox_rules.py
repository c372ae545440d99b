"""Whether an SDR's mailbox may send now, and whether its deliverability says it must stop.

Pure: the store reads a mailbox's recorded health (``cadence.store.mailbox_health``) and
its sends, hard bounces and complaints over the guard's window; these rules say what follows.
A mailbox that may not send holds its touches back: they move later, none is dropped or
failed. A login refused or a server unreachable is tried again once ``retry_after`` has
passed since it was last found so (one batch probes it); a pause waits for a person."""

from dataclasses import dataclass
from datetime import datetime, timedelta

#: The words of :class:`cadence.store.mailbox_health.MailboxHealth` these rules tell apart.
HEALTH_OK = "ok"
HEALTH_PAUSED = "paused"


@dataclass(frozen=True)
class MailboxCondition:
    """A mailbox's recorded health: ``ok`` or why not, and since when it was last found so."""

    health: str
    reason: str | None
    changed_at: datetime


@dataclass(frozen=True)
class MailboxHold:
    """Why a mailbox's touches wait, and the earliest moment to look again."""

    reason: str
    not_before: datetime


def mailbox_hold(
    name: str,
    condition: MailboxCondition | None,
    *,
    now: datetime,
    retry_after: timedelta,
) -> MailboxHold | None:
    """None when ``name``'s mailbox may send at ``now``: healthy, or failed long enough ago
    that a send tries it again (a probe, whose success marks it healthy). Else why not and
    until when: a paused mailbox is looked at again every ``retry_after`` until resumed."""
    if condition is None or condition.health == HEALTH_OK:
        return None
    why = f"{name}'s mailbox is {condition.health}" + (
        f": {condition.reason}" if condition.reason else ""
    )
    if condition.health == HEALTH_PAUSED:
        return MailboxHold(f"waiting: {why}", now + retry_after)
    retry_at = condition.changed_at + retry_after
    if now >= retry_at:
        return None
    return MailboxHold(f"waiting: {why}", retry_at)


@dataclass(frozen=True)
class DeliverabilityLimits:
    """The guard's thresholds: rates as fractions (0.05 is 5%) over the last
    ``window_days`` UTC days of a mailbox's sends, judged once it has ``min_sends``."""

    max_hard_bounce_rate: float = 0.05
    max_complaint_rate: float = 0.003
    #: Bounces that reject the sender (blocklists, spam filters, authentication).
    max_rejection_rate: float = 0.05
    min_sends: int = 50
    window_days: int = 30


@dataclass(frozen=True)
class DeliveryRecord:
    """A mailbox's sends and what came back over the guard's window."""

    sends: int
    hard_bounces: int
    complaints: int
    rejections: int = 0


def guard_verdict(record: DeliveryRecord, limits: DeliverabilityLimits) -> str | None:
    """Why the mailbox must pause (a rate over its limit), or None. Too small a sample is
    never judged: three bounces in the first twenty sends say little."""
    if record.sends < max(limits.min_sends, 1):
        return None
    for what, count, limit in (
        ("hard bounces", record.hard_bounces, limits.max_hard_bounce_rate),
        ("complaints", record.complaints, limits.max_complaint_rate),
        ("rejections of the sender", record.rejections, limits.max_rejection_rate),
    ):
        rate = count / record.sends
        if rate > limit:
            return (
                f"{what} {_percent(rate)} of the last {record.sends} sends in "
                f"{limits.window_days} days (limit {limit * 100:g}%)"
            )
    return None


def _percent(rate: float) -> str:
    return f"{rate * 100:.1f}".removesuffix(".0") + "%"

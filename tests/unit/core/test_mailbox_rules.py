"""The mailbox rules: whether a mailbox may send now (health), and the deliverability guard's
rates. Tables of cases; the store's words for health are checked against the core's."""

from datetime import UTC, datetime, timedelta

import pytest

from cadence.core.mailbox_rules import (
    HEALTH_OK,
    HEALTH_PAUSED,
    DeliverabilityLimits,
    DeliveryRecord,
    MailboxCondition,
    MailboxHold,
    guard_verdict,
    mailbox_hold,
)
from cadence.store.mailbox_health import MailboxHealth

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RETRY = timedelta(minutes=15)


def _condition(health: str, *, ago: timedelta, reason: str | None = "SMTP 535") -> MailboxCondition:
    return MailboxCondition(health=health, reason=reason, changed_at=NOW - ago)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, None),
        (_condition("ok", ago=timedelta(0)), None),
        (
            _condition("authentication", ago=timedelta(minutes=1)),
            MailboxHold(
                "waiting: alex's mailbox is authentication: SMTP 535", NOW + timedelta(minutes=14)
            ),
        ),
        (
            _condition("unreachable", ago=timedelta(0), reason=None),
            MailboxHold("waiting: alex's mailbox is unreachable", NOW + RETRY),
        ),
        # Failed long enough ago: one send tries the mailbox again.
        (_condition("authentication", ago=RETRY), None),
        (_condition("unreachable", ago=timedelta(hours=3)), None),
        # A pause never lapses: only a person resumes it.
        (
            _condition("paused", ago=timedelta(days=3), reason="hard bounces 6%"),
            MailboxHold("waiting: alex's mailbox is paused: hard bounces 6%", NOW + RETRY),
        ),
    ],
)
def test_mailbox_hold(condition: MailboxCondition | None, expected: MailboxHold | None) -> None:
    assert mailbox_hold("alex", condition, now=NOW, retry_after=RETRY) == expected


def test_the_core_words_are_the_stores() -> None:
    assert MailboxHealth.OK.value == HEALTH_OK
    assert MailboxHealth.PAUSED.value == HEALTH_PAUSED


LIMITS = DeliverabilityLimits(max_hard_bounce_rate=0.05, max_complaint_rate=0.003, min_sends=50)


@pytest.mark.parametrize(
    ("sends", "bounces", "complaints", "expected"),
    [
        (0, 0, 0, None),
        # Below the minimum sample nothing is judged, whatever the rate.
        (49, 20, 5, None),
        (50, 2, 0, None),
        # At the limit is not over it.
        (100, 5, 0, None),
        (100, 6, 0, "hard bounces 6% of the last 100 sends in 30 days (limit 5%)"),
        (200, 13, 0, "hard bounces 6.5% of the last 200 sends in 30 days (limit 5%)"),
        (1000, 0, 3, None),
        (1000, 0, 4, "complaints 0.4% of the last 1000 sends in 30 days (limit 0.3%)"),
        (400, 1, 1, None),
        (200, 1, 1, "complaints 0.5% of the last 200 sends in 30 days (limit 0.3%)"),
        # Both over: the bounces are named.
        (100, 10, 10, "hard bounces 10% of the last 100 sends in 30 days (limit 5%)"),
    ],
)
def test_guard_verdict(sends: int, bounces: int, complaints: int, expected: str | None) -> None:
    assert guard_verdict(DeliveryRecord(sends, bounces, complaints), LIMITS) == expected


@pytest.mark.parametrize(
    ("sends", "rejections", "expected"),
    [
        (100, 5, None),
        (100, 6, "rejections of the sender 6% of the last 100 sends in 30 days (limit 5%)"),
        (49, 40, None),
    ],
)
def test_rejections_of_the_sender_pile_up_to_a_pause(
    sends: int, rejections: int, expected: str | None
) -> None:
    record = DeliveryRecord(sends, 0, 0, rejections)
    assert guard_verdict(record, LIMITS) == expected


def test_a_zero_minimum_still_needs_a_send() -> None:
    assert guard_verdict(DeliveryRecord(0, 0, 0), DeliverabilityLimits(min_sends=0)) is None
    assert guard_verdict(DeliveryRecord(1, 1, 0), DeliverabilityLimits(min_sends=0)) is not None

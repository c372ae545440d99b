"""The per-mailbox send limits (``MailboxAllowance``) and the worker's batching of touch ids.

``take`` is tested on counter rows in memory; carrying a throttle minute across midnight needs
``MailboxAllowance.lock`` and so an in-memory SQLite store with the real migrations. Tests
run in Europe/Berlin (tests/conftest.py), so a limit computed on local time instead of UTC
shows up here.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine
from sqlmodel import select

from cadence.authoring.config_files import Sender
from cadence.core.send_allowance import SendLimit
from cadence.delivery.send_limits import MailboxAllowance
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.settings import load_settings
from cadence.store.database import transaction
from cadence.store.models import MailboxDay
from workers.actors import declare_actors
from workers.broker import TOUCH_QUEUE

REPO = Path(__file__).resolve().parents[3]
#: Monday 09:00 UTC.
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _sender(*, per_minute: int = 30, daily_cap: int = 200) -> Sender:
    return Sender(
        name="alex",
        full_name="Alex Morgan",
        email="alex@brightwave.example",
        per_minute=per_minute,
        daily_cap=daily_cap,
    )


def _in_memory(*, started: int = 0) -> tuple[MailboxAllowance, MailboxDay]:
    counter = MailboxDay(owner="alex", day=T0.date(), started=started)
    return MailboxAllowance({"alex": counter}), counter


def _window(counter: MailboxDay) -> tuple[int, datetime | None, int]:
    return counter.started, counter.window_started_at, counter.window_sent


# The per-minute throttle ---------------------------------------------------------------------


def test_per_minute_lets_that_many_through_then_waits_for_the_window_to_end() -> None:
    allowance, counter = _in_memory()
    sender = _sender(per_minute=3)
    assert [allowance.take(sender, now=T0 + k * SECOND) for k in (0, 10, 20)] == [None] * 3
    limit = allowance.take(sender, now=T0 + 30 * SECOND)
    assert limit == SendLimit(
        "3 emails a minute for alex@brightwave.example reached", T0 + timedelta(minutes=1)
    )
    last_instant = T0 + timedelta(minutes=1) - timedelta(microseconds=1)
    assert allowance.take(sender, now=last_instant) == limit
    # Refused sends take nothing.
    assert _window(counter) == (3, T0, 3)


def test_a_new_window_starts_once_the_minute_is_over() -> None:
    allowance, counter = _in_memory()
    sender = _sender(per_minute=3)
    for k in (0, 10, 20):
        assert allowance.take(sender, now=T0 + k * SECOND) is None
    assert allowance.take(sender, now=T0 + 60 * SECOND) is None
    assert _window(counter) == (4, T0 + 60 * SECOND, 1)
    assert allowance.take(sender, now=T0 + 61 * SECOND) is None
    assert allowance.take(sender, now=T0 + 62 * SECOND) is None
    limit = allowance.take(sender, now=T0 + 63 * SECOND)
    assert limit is not None and limit.not_before == T0 + 120 * SECOND


def test_the_window_starts_with_the_first_email_after_the_previous_one_ended() -> None:
    """Not on minute boundaries: after a quiet spell the window opens with the next email."""
    allowance, counter = _in_memory()
    sender = _sender(per_minute=2)
    assert allowance.take(sender, now=T0) is None
    start = T0 + 200 * SECOND
    assert allowance.take(sender, now=start) is None
    assert _window(counter) == (2, start, 1)
    assert allowance.take(sender, now=start + 50 * SECOND) is None
    limit = allowance.take(sender, now=start + 55 * SECOND)
    assert limit is not None and limit.not_before == start + 60 * SECOND


def test_one_a_minute_spaces_sends_a_minute_apart() -> None:
    allowance, _ = _in_memory()
    sender = _sender(per_minute=1)
    assert allowance.take(sender, now=T0) is None
    limit = allowance.take(sender, now=T0 + SECOND)
    assert limit is not None and limit.not_before == T0 + 60 * SECOND
    assert allowance.take(sender, now=limit.not_before) is None


# The daily cap -------------------------------------------------------------------------------


def test_the_daily_cap_moves_the_next_send_to_the_next_utc_day() -> None:
    # 23:30 UTC is already the next day in Berlin, where the tests run: the cap's day is UTC.
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    allowance, counter = _in_memory()
    sender = _sender(daily_cap=2)
    assert allowance.take(sender, now=late) is None
    assert allowance.take(sender, now=late + timedelta(minutes=5)) is None
    limit = allowance.take(sender, now=late + timedelta(minutes=10))
    assert limit == SendLimit(
        "daily cap of 2 emails for alex@brightwave.example reached",
        datetime(2026, 11, 24, 0, 0, tzinfo=UTC),
    )
    assert _window(counter) == (2, late + timedelta(minutes=5), 1)


def test_a_mailbox_at_its_cap_in_the_morning_waits_for_utc_midnight() -> None:
    allowance, counter = _in_memory(started=5)
    limit = allowance.take(_sender(daily_cap=5), now=T0)
    assert limit is not None
    assert limit.not_before == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert _window(counter) == (5, None, 0)


def test_each_mailbox_has_its_own_allowance() -> None:
    alex, priya = MailboxDay(owner="alex", day=T0.date()), MailboxDay(owner="priya", day=T0.date())
    allowance = MailboxAllowance({"alex": alex, "priya": priya})
    other = Sender(name="priya", full_name="Priya Raman", email="priya@brightwave.example")
    assert allowance.take(_sender(per_minute=1), now=T0) is None
    assert allowance.take(_sender(per_minute=1), now=T0) is not None
    assert allowance.take(other, now=T0) is None
    assert (alex.started, priya.started) == (1, 1)


# Counter rows in a store: lock, and the window carried across midnight ------------------------


def _take_in_store(engine: Engine, sender: Sender, now: datetime) -> SendLimit | None:
    """One claim's transaction: lock today's row (UTC), take, save, commit."""
    with transaction(engine) as session:
        allowance = MailboxAllowance.lock(session, [sender.name], now.date())
        limit = allowance.take(sender, now=now)
        allowance.save(session)
        return limit


def _rows(engine: Engine) -> dict[date, tuple[int, datetime | None, int]]:
    with transaction(engine) as session:
        return {row.day: _window(row) for row in session.exec(select(MailboxDay))}


def test_a_full_window_begun_before_midnight_holds_on_the_new_days_row(engine: Engine) -> None:
    sender = _sender(per_minute=3)
    late = datetime(2026, 11, 23, 23, 59, 40, tzinfo=UTC)
    for k in (0, 5, 10):
        assert _take_in_store(engine, sender, late + k * SECOND) is None
    after_midnight = datetime(2026, 11, 24, 0, 0, 10, tzinfo=UTC)
    limit = _take_in_store(engine, sender, after_midnight)
    assert limit is not None
    assert limit.not_before == late + timedelta(minutes=1)  # 00:00:40
    assert _take_in_store(engine, sender, limit.not_before) is None
    assert _rows(engine) == {
        date(2026, 11, 23): (3, late, 3),
        date(2026, 11, 24): (1, limit.not_before, 1),  # the day's cap counts today's only
    }


def test_a_part_used_window_carries_its_count_across_midnight(engine: Engine) -> None:
    sender = _sender(per_minute=3)
    late = datetime(2026, 11, 23, 23, 59, 40, tzinfo=UTC)
    assert _take_in_store(engine, sender, late) is None
    assert _take_in_store(engine, sender, late + 25 * SECOND) is None  # 00:00:05, new day
    assert _take_in_store(engine, sender, late + 30 * SECOND) is None  # the third this minute
    limit = _take_in_store(engine, sender, late + 35 * SECOND)
    assert limit is not None and limit.not_before == late + 60 * SECOND
    assert _rows(engine) == {
        date(2026, 11, 23): (1, late, 1),
        date(2026, 11, 24): (2, late, 3),
    }


def test_a_window_that_ended_before_midnight_does_not_hold_back_the_new_day(
    engine: Engine,
) -> None:
    sender = _sender(per_minute=3)
    late = datetime(2026, 11, 23, 23, 58, 0, tzinfo=UTC)
    for k in (0, 1, 2):
        assert _take_in_store(engine, sender, late + k * SECOND) is None
    after_midnight = datetime(2026, 11, 24, 0, 0, 10, tzinfo=UTC)
    assert _take_in_store(engine, sender, after_midnight) is None
    assert _rows(engine)[date(2026, 11, 24)] == (1, after_midnight, 1)


def test_lock_creates_each_owners_row_once_and_keeps_its_counts(engine: Engine) -> None:
    alex, priya = (
        _sender(daily_cap=2),
        Sender(name="priya", full_name="Priya Raman", email="priya@brightwave.example"),
    )
    with transaction(engine) as session:
        allowance = MailboxAllowance.lock(session, ["priya", "alex", "alex"], T0.date())
        assert allowance.take(alex, now=T0) is None
        assert allowance.take(priya, now=T0) is None
        allowance.save(session)
    with transaction(engine) as session:
        allowance = MailboxAllowance.lock(session, ["alex"], T0.date())
        assert allowance.take(alex, now=T0 + SECOND) is None
        assert allowance.take(alex, now=T0 + 2 * SECOND) is not None  # cap of 2 reached
        allowance.save(session)
    with transaction(engine) as session:
        rows = {(r.owner, r.day): r.started for r in session.exec(select(MailboxDay))}
    assert rows == {("alex", T0.date()): 2, ("priya", T0.date()): 1}
    with transaction(engine) as session:  # a later claim reads the same row
        later = MailboxAllowance.lock(session, ["alex"], T0.date())
        assert later.take(alex, now=T0 + 3 * SECOND) is not None


# The worker's messages: one per batch of touch ids -------------------------------------------


def _context(tmp_path: Path, **overrides: object) -> AppContext:
    settings = load_settings(
        database_url="sqlite://",
        outbox_dir=tmp_path / "outbox",
        config_dir=REPO / "config",
        templates_dir=REPO / "templates",
        **overrides,
    )
    return build_context(settings)


def _messages(broker: StubBroker) -> list[Message[object]]:
    queue = broker.queues[TOUCH_QUEUE]
    return [Message.decode(queue.get_nowait()) for _ in range(queue.qsize())]


def test_enqueue_touches_sends_one_message_per_batch_of_ids(tmp_path: Path) -> None:
    ctx = _context(tmp_path, delivery_batch_size=20)
    broker = StubBroker()
    try:
        actors = declare_actors(broker, ctx)
        assert actors.batch_size == 20
        ids = list(range(101, 146))
        actors.enqueue_touches(ids)
        messages = _messages(broker)
    finally:
        broker.close()
        ctx.close()
    assert [list(m.args) for m in messages] == [[ids[0:20]], [ids[20:40]], [ids[40:45]]]
    assert {(m.actor_name, m.queue_name) for m in messages} == {("deliver_touch", TOUCH_QUEUE)}


def test_the_batch_size_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENCE_DELIVERY_BATCH_SIZE", "7")
    ctx = _context(tmp_path)
    broker = StubBroker()
    try:
        actors = declare_actors(broker, ctx)
        actors.enqueue_touches([])
        assert _messages(broker) == []
        actors.enqueue_touches(list(range(1, 16)))
        sizes = [len(m.args[0]) for m in _messages(broker)]
    finally:
        broker.close()
        ctx.close()
    assert sizes == [7, 7, 1]

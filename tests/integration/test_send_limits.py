"""A mailbox's daily cap moves touches to the next day's window; none is dropped."""

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from cadence import services
from cadence.clock import SimulatedClock
from cadence.context import AppContext
from cadence.database import create_db_engine, migrate, transaction
from cadence.models import MailboxDay, Touch
from cadence.send_limits import MailboxAllowance
from workers.embedded import EmbeddedEngine

from .conftest import REPO, START

pytestmark = pytest.mark.integration


def test_daily_cap_spreads_first_touches_over_days(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    team = config / "team.toml"
    team.write_text(team.read_text().replace("daily_cap = 200", "daily_cap = 2", 1))
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, config_dir=config)
    rows = ["email,first_name,timezone,country"] + [
        f"p{i}@co{i}.example,P{i},Europe/Berlin,DE" for i in range(5)
    ]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    services.import_prospects(ctx, tmp_path / "p.csv", owner="alex", actor="t")
    services.enroll_prospects(
        ctx, [f"p{i}@co{i}.example" for i in range(5)], "seven-touch", owner=None, actor="t"
    )
    with EmbeddedEngine(ctx, worker_threads=2) as engine:
        engine.simulate(clock, START + timedelta(days=3, hours=12))
    with transaction(ctx.engine) as session:
        firsts = session.exec(select(Touch).where(Touch.step == 1)).all()
    assert all(t.status == "sent" for t in firsts)
    days = Counter(
        t.started_at.astimezone(ZoneInfo("Europe/Berlin")).date() for t in firsts if t.started_at
    )
    assert sorted(days.values(), reverse=True) == [2, 2, 1]
    berlin = ZoneInfo("Europe/Berlin")
    for touch in firsts:
        assert touch.started_at is not None
        local = touch.started_at.astimezone(berlin)
        assert local.weekday() < 5
        assert (7, 30) <= (local.hour, local.minute) < (9, 30)


def test_per_minute_throttle_spreads_sends_and_drops_none(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    team = config / "team.toml"
    team.write_text(
        team.read_text().replace("daily_cap = 200", "daily_cap = 200\nper_minute = 1", 1)
    )
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, config_dir=config)
    assert ctx.catalog.team.sender("alex").per_minute == 1
    rows = ["email,first_name,timezone,country"] + [
        f"m{i}@co{i}.example,M{i},Europe/Berlin,DE" for i in range(4)
    ]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    services.import_prospects(ctx, tmp_path / "p.csv", owner="alex", actor="t")
    services.enroll_prospects(
        ctx, [f"m{i}@co{i}.example" for i in range(4)], "seven-touch", owner=None, actor="t"
    )
    with transaction(ctx.engine) as session:  # all four due on the same second
        planned = session.exec(select(Touch)).all()
        first_due = min(t.due_at for t in planned)
        for touch in planned:
            touch.due_at = first_due
            session.add(touch)
    with EmbeddedEngine(ctx, worker_threads=2) as engine:
        engine.simulate(clock, START + timedelta(days=1, hours=12))
    with transaction(ctx.engine) as session:
        firsts = session.exec(select(Touch).where(Touch.step == 1)).all()
    assert [t.status for t in firsts] == ["sent"] * 4
    starts = sorted(t.started_at for t in firsts if t.started_at)
    gaps = [later - earlier for earlier, later in pairwise(starts)]
    assert all(gap >= timedelta(minutes=1) for gap in gaps), gaps
    assert sum(1 for t in firsts if (t.reason or "").startswith("moved: 1 emails a minute")) == 3


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_claims_at_a_mailbox_first_send_of_the_day_never_deadlock(database_url: str) -> None:
    """Claims lock mailbox rows in owner order; at a day's first sends, when some rows exist
    and others are still being created, creating them inside the claims could take a lock out
    of that order and deadlock (PostgreSQL aborts one, the batch retries seconds later).
    Threads here claim overlapping mailboxes at the same instant of each new day, one row of
    the day created just before them."""
    engine = create_db_engine(database_url)
    migrate(engine)
    owners = ["alex", "jonas", "priya", "sam"]
    subsets = [owners, owners[::-1], owners[1:], owners[:3], ["priya", "alex"], ["sam", "jonas"]]
    errors: list[BaseException] = []
    try:
        for round_ in range(15):
            day = date(2026, 12, 1) + timedelta(days=round_)
            start = threading.Barrier(len(subsets) + 1)

            def claim(subset: list[str], day: date = day, start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    with transaction(engine) as session:
                        MailboxAllowance.lock(session, subset, day)
                        time.sleep(0.02)  # render and compose while holding the rows
                except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)

            threads = [threading.Thread(target=claim, args=(s,), daemon=True) for s in subsets]
            for thread in threads:
                thread.start()
            start.wait()
            with transaction(engine) as session:  # one row of the day appears meanwhile
                MailboxAllowance.lock(session, [owners[round_ % len(owners)]], day)
            for thread in threads:
                thread.join(timeout=60)
            assert not any(t.is_alive() for t in threads), f"claims still waiting on {day}"
        assert errors == []
        with transaction(engine) as session:
            rows = session.exec(select(MailboxDay.owner, MailboxDay.day)).all()
        assert len(rows) == 15 * len(owners)
    finally:
        engine.dispose()


def test_a_new_days_rows_are_made_together_each_carrying_its_own_minute(
    database_url: str,
) -> None:
    """One lock makes the day's rows of several mailboxes at once: each row takes the
    throttle minute of its own mailbox's row of the day before, or none."""
    engine = create_db_engine(database_url)
    migrate(engine)
    today = date(2026, 12, 2)
    late = datetime(2026, 12, 1, 23, 59, 30, tzinfo=UTC)
    earlier = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    try:
        with transaction(engine) as session:
            session.add(MailboxDay(owner="alex", day=today - timedelta(days=1), started=40,
                                   window_started_at=late, window_sent=2))  # fmt: skip
            session.add(MailboxDay(owner="jonas", day=today - timedelta(days=1), started=9,
                                   window_started_at=earlier, window_sent=5))  # fmt: skip
        with transaction(engine) as session:
            MailboxAllowance.lock(session, ["sam", "jonas", "alex"], today)
        with transaction(engine) as session:
            rows = session.exec(select(MailboxDay).where(MailboxDay.day == today)).all()
            found = {r.owner: (r.started, r.window_started_at, r.window_sent) for r in rows}
    finally:
        engine.dispose()
    assert found == {
        "alex": (0, late, 2),
        "jonas": (0, earlier, 5),  # long over: take() starts a new minute, as before
        "sam": (0, None, 0),
    }

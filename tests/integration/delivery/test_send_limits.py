"""A mailbox's daily cap moves touches to the next day's window; none is dropped."""

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from cadence.authoring.config_files import Sender
from cadence.authoring.rendering import RenderedContent
from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.delivery import claim as touch_claim
from cadence.delivery.batch import deliver_touches
from cadence.delivery.send_limits import MailboxAllowance, Reservation
from cadence.runtime.context import AppContext
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_by_hand
from cadence.sequences.prospect_import import import_prospects
from cadence.store.database import create_db_engine, migrate, transaction
from cadence.store.models import Enrollment, MailboxDay, Touch
from tests.integration.batch_setup import (
    AT,
    berlins,
    between_preparation_and_claim,
    import_rows,
    queue_due,
)
from tests.integration.conftest import REPO, START
from workers.embedded import EmbeddedEngine

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
    import_prospects(ctx, tmp_path / "p.csv", owner="alex", actor="t")
    enroll_prospects(
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
    import_prospects(ctx, tmp_path / "p.csv", owner="alex", actor="t")
    enroll_prospects(
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
                        time.sleep(0.02)  # write and commit while holding the rows
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


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("started_before", "started_after"),
    [(0, 1), (199, 200)],  # sends reserved ahead and one given back; one left, the row locked
    ids=["reserved", "near-the-cap"],
)
def test_a_claim_renders_before_it_locks_anything_and_sees_a_halt_made_meanwhile(
    make_context: Callable[..., AppContext],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    started_before: int,
    started_after: int,
) -> None:
    """A reply's halt waits for the enrollment locks a claim holds, so a claim renders and
    composes its batch before it takes them, and holds no mailbox row then either (locked
    while a batch rendered, the row made a team's claims render one after another). A halt
    committed while the batch renders is seen once the claim locks: Bo's email never starts,
    and the send reserved for it is given back."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    emails = ["ann@acme.example", "bo@acme.example"]
    import_rows(ctx, tmp_path, berlins(*emails))
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="t")
    queued = queue_due(ctx, clock)
    assert ctx.catalog.team.sender("alex").daily_cap == 200
    with transaction(ctx.engine) as session:  # the day's row exists: a claim would lock it
        session.add(MailboxDay(owner="alex", day=AT.date(), started=started_before))
    rendering, go_on = threading.Event(), threading.Event()
    render = ctx.catalog.renderer.render

    def slow_render(name: str, context: dict[str, object]) -> RenderedContent:
        rendering.set()
        go_on.wait(timeout=30)
        return render(name, context)

    monkeypatch.setattr(ctx.catalog.renderer, "render", slow_render)
    found: dict[int, str] = {}
    worker = threading.Thread(target=lambda: found.update(deliver_touches(ctx, [*queued.values()])))
    worker.start()
    try:
        assert rendering.wait(timeout=30)
        with transaction(ctx.engine) as other:
            counters = other.exec(
                select(MailboxDay).where(MailboxDay.owner == "alex").with_for_update(nowait=True)
            ).all()
            assert len(other.exec(select(Enrollment).with_for_update(nowait=True)).all()) == 2
        record_by_hand(ctx, EventKind.HALT, "bo@acme.example", actor="t")
    finally:
        go_on.set()
        worker.join(timeout=60)
    assert [c.started for c in counters] == [started_before]
    assert [found[queued[email]] for email in emails] == ["sent", "skipped:cancelled"]
    with transaction(ctx.engine) as session:
        assert session.get(MailboxDay, ("alex", AT.date())).started == started_after  # type: ignore[union-attr]
        assert session.get(Touch, queued["bo@acme.example"]).status == "cancelled"  # type: ignore[union-attr]


def _halt_before_the_claim(ctx: AppContext, monkeypatch: pytest.MonkeyPatch, email: str) -> None:
    """The prospect's enrollment halted after its batch is prepared, before the claim locks."""
    between_preparation_and_claim(
        monkeypatch, lambda: record_by_hand(ctx, EventKind.HALT, email, actor="t")
    )


#: Ann in Berlin, in her send window at 08:00 there; Kai in Tokyo, outside his.
_KAI = "kai@acme.example,Kai,Test,Acme,CEO,ceo,Asia/Tokyo,JP"
_ANN_AND_KAI = [*berlins("ann@acme.example"), _KAI]


def _claimed(
    ctx: AppContext,
    tmp_path: Path,
    clock: SimulatedClock,
    rows: list[str],
    before: tuple[int, datetime | None, int] = (5, None, 0),
) -> tuple[list[str], tuple[int, datetime | None, int]]:
    """The prospects' first emails claimed together at 08:00 in Berlin, alex's counters
    (started, minute's start, its sends) ``before`` it: the outcomes, in the rows' order,
    and the counters after."""
    emails = [row.split(",")[0] for row in rows]
    import_rows(ctx, tmp_path, rows)
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="t")
    queued = queue_due(ctx, clock)
    with transaction(ctx.engine) as session:
        session.add(_counters(AT.date(), before))
    found = deliver_touches(ctx, [queued[email] for email in emails])
    with transaction(ctx.engine) as session:
        row = session.get(MailboxDay, ("alex", AT.date()))
    assert row is not None
    after = (row.started, row.window_started_at, row.window_sent)
    return [found[queued[email]] for email in emails], after


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_send_is_reserved_for_a_touch_held_back(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kai, outside his window, is held back by the preparation: only Ann's send is reserved
    (reserved, Kai's would fill the cap or the minute for a concurrent claim until given back)."""
    taken: list[list[str]] = []
    take_ahead = Reservation.take_ahead.__func__  # type: ignore[attr-defined]

    def recorded(cls: type[Reservation], connection: Any, senders: Any, **kwargs: Any) -> Any:
        taken.append([s.name for s in senders])
        return take_ahead(cls, connection, senders, **kwargs)

    monkeypatch.setattr(Reservation, "take_ahead", classmethod(recorded))
    clock = SimulatedClock(START)
    outcomes, after = _claimed(make_context(clock=clock), tmp_path, clock, _ANN_AND_KAI)
    assert outcomes == ["sent", "skipped:outside-window"]
    assert taken == [["alex"]]
    assert after == (6, AT, 1)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_minute_started_by_a_reservation_no_send_used_ends_when_given_back(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last minute had ended, so reserving Ann's send started one at 08:00; Ann is
    halted before the claim, and the minute must not stay: the next email starts a minute of
    its own, as ``take`` counts it (else a send at 08:00:50 would share it and one at 08:01
    start the next, ten seconds apart with one a minute)."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _halt_before_the_claim(ctx, monkeypatch, "ann@acme.example")
    before = (5, AT - timedelta(minutes=2), 3)
    outcomes, after = _claimed(ctx, tmp_path, clock, berlins("ann@acme.example"), before)
    assert outcomes == ["skipped:cancelled"]
    assert after == (5, None, 0)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_claim_that_rolls_back_gives_back_the_sends_it_took(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's writes fail after it took its reserved sends; claimed again one by one,
    each email is counted once (counted twice, the mailbox would stop early)."""
    writes = touch_claim.ClaimWrites.write
    failures = iter([RuntimeError("the batch's writes failed")])

    def fail_once(self: touch_claim.ClaimWrites, *args: Any, **kwargs: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        writes(self, *args, **kwargs)

    monkeypatch.setattr(touch_claim.ClaimWrites, "write", fail_once)
    clock = SimulatedClock(START)
    rows = berlins("ann@acme.example", "bo@acme.example")
    outcomes, after = _claimed(make_context(clock=clock), tmp_path, clock, rows)
    assert outcomes == ["sent", "sent"]
    assert next(failures, None) is None
    assert after[0] == 7


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_claim_stands_when_its_unused_sends_cannot_be_given_back(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim has committed its emails "sending" by then: an error giving back the
    unused sends must not fail the batch (its emails would never leave); they stay counted."""

    def store_down(self: Reservation, engine: object) -> None:
        raise OperationalError("UPDATE mailboxday", {}, Exception("connection refused"))

    monkeypatch.setattr(Reservation, "give_back", store_down)
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _halt_before_the_claim(ctx, monkeypatch, "bo@acme.example")
    rows = berlins("ann@acme.example", "bo@acme.example")
    outcomes, after = _claimed(ctx, tmp_path, clock, rows)
    assert outcomes == ["sent", "skipped:cancelled"]
    assert after[0] == 7


#: A mailbox's counters (started, throttle minute's start before now, its sends) and the
#: sends asked for, against limits of 10 a day and 3 a minute.
_COUNTERS = [
    (started, ago, window_sent, count)
    for started in (0, 8, 9, 10)
    for ago, window_sent in ((None, 0), (timedelta(seconds=30), 1), (timedelta(seconds=30), 3),
                             (timedelta(seconds=60), 3), (timedelta(seconds=59), 2))
    for count in (1, 2, 3, 4)
]  # fmt: skip


def _sender(name: str, *, daily_cap: int, per_minute: int = 10_000) -> Sender:
    email = f"{name}@brightwave.example"
    return Sender(name=name, full_name=f"{name.title()} Test", email=email, daily_cap=daily_cap,
                  per_minute=per_minute)  # fmt: skip


def _counters(day: date, values: tuple[int, datetime | None, int]) -> MailboxDay:
    started, window_started_at, window_sent = values
    return MailboxDay(owner="alex", day=day, started=started,
                      window_started_at=window_started_at, window_sent=window_sent)  # fmt: skip


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_reservation_counts_what_taking_each_send_would_or_nothing(database_url: str) -> None:
    """The reservation's one statement against ``MailboxAllowance.take`` send by send: when
    take lets them all through, the row ends as take leaves it; when not, the reservation
    takes none and the row is unchanged (the claim's locked allowance decides then)."""
    engine = create_db_engine(database_url)
    migrate(engine)
    sender = _sender("alex", daily_cap=10, per_minute=3)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    mismatches = []
    try:
        for k, (started, ago, window_sent, count) in enumerate(_COUNTERS):
            day = date(2027, 1, 1) + timedelta(days=k)  # a row of its own
            at = now.replace(year=day.year, month=day.month, day=day.day)
            before = (started, at - ago if ago is not None else None, window_sent)
            expected = _counters(day, before)
            allowance = MailboxAllowance({"alex": expected})
            all_taken = all(allowance.take(sender, now=at) is None for _ in range(count))
            if not all_taken:
                expected = _counters(day, before)
            with transaction(engine) as session:
                session.add(_counters(day, before))
            with engine.connect() as connection:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                reservation = Reservation.take_ahead(connection, [sender] * count, now=at)
            taken = sum(reservation.take(sender) for _ in range(count))
            with transaction(engine) as session:
                row = session.get(MailboxDay, ("alex", day))
                assert row is not None
                got = (taken, row.started, row.window_started_at, row.window_sent)
            want = (count if all_taken else 0, expected.started, expected.window_started_at,
                    expected.window_sent)  # fmt: skip
            if got != want:
                mismatches.append((started, ago, window_sent, count, got, want))
    finally:
        engine.dispose()
    assert mismatches == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_reservations_of_overlapping_mailboxes_at_once_never_deadlock(database_url: str) -> None:
    """One statement reserves a batch's sends from all its mailboxes: threads reserving from
    overlapping mailboxes at the same instant neither deadlock nor lose a count, and a
    mailbox that cannot take all its sends is left to the claim's allowance while the
    others in the same statement take theirs."""
    engine = create_db_engine(database_url)
    migrate(engine)
    owners = ["alex", "jonas", "priya", "sam"]
    senders = {name: _sender(name, daily_cap=5 if name == "sam" else 10_000) for name in owners}
    subsets = [owners, owners[::-1], owners[1:], owners[:3], ["priya", "alex"], ["sam", "jonas"]]
    day = date(2026, 12, 1)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with transaction(engine) as session:
        for name in owners:
            session.add(MailboxDay(owner=name, day=day))
    granted: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()
    try:
        for _ in range(20):
            start = threading.Barrier(len(subsets))

            def reserve(subset: list[str], start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    with engine.connect() as connection:
                        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                        wanted = [senders[name] for name in subset for _ in range(2)]
                        reservation = Reservation.take_ahead(connection, wanted, now=now)
                    with lock:
                        for name in subset:
                            granted[name] += sum(reservation.take(senders[name]) for _ in range(2))
                except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)

            threads = [threading.Thread(target=reserve, args=(s,), daemon=True) for s in subsets]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not any(t.is_alive() for t in threads)
        assert errors == []
        with transaction(engine) as session:
            rows = session.exec(select(MailboxDay).where(MailboxDay.day == day)).all()
            started = {row.owner: row.started for row in rows}
    finally:
        engine.dispose()
    assert started == dict(granted)
    assert started["sam"] == 4  # two reservations of 2, then none fits under a cap of 5
    assert started["alex"] == 20 * 2 * 4  # in four of the six subsets, every round

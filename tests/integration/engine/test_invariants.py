"""Design invariants 1 and 2 under concurrency: the claim and the halt serialize on the
enrollment row, and a send whose outcome is unknown is flagged, never repeated."""

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.core.errors import ConflictError
from cadence.delivery.batch import deliver_touch
from cadence.delivery.unconfirmed import resolve_unconfirmed
from cadence.runtime.context import AppContext
from cadence.scheduler.tick import scheduler_tick
from cadence.sequences.events import record_by_hand, record_event
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Touch
from cadence.transports import FileOutbox
from tests.integration.conftest import START
from tests.integration.engine.test_engine import _setup

pytestmark = pytest.mark.integration


def _first_due(ctx: AppContext, clock: SimulatedClock) -> Touch:
    with transaction(ctx.engine) as session:
        touch = session.exec(select(Touch).order_by(col(Touch.due_at))).first()
    assert touch is not None
    clock.advance_to(touch.due_at)
    claimed: list[int] = []
    scheduler_tick(ctx, claimed.extend)
    assert touch.id in claimed
    return touch


def test_a_halt_holding_the_enrollment_row_wins_over_a_waiting_claim(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    touch = _first_due(ctx, clock)
    assert touch.id is not None
    prospect_email = {1: "ann@acme.example", 2: "bo@globex.example", 3: "cy@initech.example"}[
        touch.prospect_id
    ]
    outcome: list[str] = []
    with transaction(ctx.engine) as session:
        # The reply's transaction takes the enrollment row first ...
        session.exec(
            select(Enrollment).where(Enrollment.id == touch.enrollment_id).with_for_update()
        ).one()
        worker = threading.Thread(target=lambda: outcome.append(deliver_touch(ctx, touch.id)))
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive(), "the worker's claim must wait for the enrollment row"
        record_event(
            session, ctx.catalog, kind=EventKind.REPLY, email=prospect_email, now=clock.now()
        )
    worker.join(timeout=30)
    assert outcome == ["skipped:cancelled"]
    assert not (tmp_path / "outbox").exists()


def test_a_claim_holding_the_row_makes_the_halt_wait_and_the_send_completes(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """A touch already ``sending`` when the reply commits was claimed before it: it may finish
    (it started before the reply), and nothing after it is planned."""
    clock = SimulatedClock(START)
    release = threading.Event()
    entered = threading.Event()

    class SlowOutbox(FileOutbox):
        def send(self, message):  # type: ignore[no-untyped-def]
            entered.set()
            release.wait(30)
            super().send(message)

    ctx = make_context(clock=clock)
    ctx.transport = SlowOutbox(tmp_path / "outbox")
    _setup(ctx, tmp_path)
    touch = _first_due(ctx, clock)
    assert touch.id is not None
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(deliver_touch(ctx, touch.id)))
    worker.start()
    assert entered.wait(30)
    email = {1: "ann@acme.example", 2: "bo@globex.example", 3: "cy@initech.example"}[
        touch.prospect_id
    ]
    record_by_hand(ctx, EventKind.REPLY, email)
    release.set()
    worker.join(30)
    assert result == ["sent"]
    with transaction(ctx.engine) as session:
        mine = session.exec(select(Touch).where(Touch.enrollment_id == touch.enrollment_id)).all()
    assert [(t.step, t.status) for t in mine] == [(1, "sent")]  # no step 2 planned


def test_crash_between_send_and_commit_is_unconfirmed_and_never_resent(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)

    class CrashAfterSend(FileOutbox):
        def send(self, message):  # type: ignore[no-untyped-def]
            super().send(message)
            raise KeyboardInterrupt("worker killed after the server accepted the message")

    ctx = make_context(clock=clock)
    ctx.transport = CrashAfterSend(tmp_path / "outbox")
    _setup(ctx, tmp_path)
    touch = _first_due(ctx, clock)
    assert touch.id is not None
    with pytest.raises(KeyboardInterrupt):
        deliver_touch(ctx, touch.id)
    ctx.transport = FileOutbox(tmp_path / "outbox")
    assert deliver_touch(ctx, touch.id) == "skipped:sending"  # a redelivered message
    clock.advance_to(clock.now() + timedelta(minutes=20))
    scheduler_tick(ctx, lambda ids: None)
    with transaction(ctx.engine) as session:
        after = session.get(Touch, touch.id)
    assert after is not None
    assert after.status == "unconfirmed"
    assert "review" in (after.reason or "")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_a_broker_outage_gives_the_claimed_batch_back(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    clock.advance_to(START + timedelta(days=3))

    def broker_down(ids: object) -> None:
        raise ConnectionError("Redis is down")

    with pytest.raises(ConnectionError):
        scheduler_tick(ctx, broker_down)
    with transaction(ctx.engine) as session:
        touches = session.exec(select(Touch)).all()
    assert [(t.status, t.enqueues, t.queued_at) for t in touches] == [("scheduled", 0, None)] * 3
    claimed: list[int] = []
    assert scheduler_tick(ctx, claimed.extend) == 3  # all of them, once Redis is back


@pytest.mark.parametrize("delivered", [True, False])
def test_a_person_settles_an_unconfirmed_touch(
    make_context: Callable[..., AppContext], tmp_path: Path, delivered: bool
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    touch = _first_due(ctx, clock)
    assert touch.id is not None
    with transaction(ctx.engine) as session:
        row = session.get(Touch, touch.id)
        assert row is not None
        row.status = "unconfirmed"
        row.started_at = clock.now()
        row.message_id = "<lost@brightwave.example>"
        session.add(row)
    with transaction(ctx.engine) as session:
        resolve_unconfirmed(
            session, ctx.catalog, touch.id, delivered=delivered, now=clock.now(), actor="t"
        )
    with transaction(ctx.engine) as session:
        mine = session.exec(
            select(Touch)
            .where(Touch.enrollment_id == touch.enrollment_id)
            .order_by(col(Touch.step))
        ).all()
    if delivered:
        assert [(t.step, t.status) for t in mine] == [(1, "sent"), (2, "scheduled")]
        return
    assert [(t.step, t.status) for t in mine] == [(1, "scheduled")]
    assert mine[0].message_id is None
    with pytest.raises(ConflictError), transaction(ctx.engine) as session:
        resolve_unconfirmed(
            session, ctx.catalog, touch.id, delivered=True, now=clock.now(), actor="t"
        )

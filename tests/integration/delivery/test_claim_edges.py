"""Edges of claiming: the mailbox day counter after a batch claim falls back to one touch
at a time, ``cancel_pending_touches`` and ``halt_enrollments`` refreshing the models a session
has already loaded, the scheduler tick's lock order against a worker's claim, and events
recorded together in one transaction; a tick re-sending a touch lost on its way to the broker."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.delivery.batch import deliver_touches
from cadence.runtime.context import AppContext
from cadence.scheduler.due_touches import REQUEUE_AFTER
from cadence.scheduler.tick import scheduler_tick
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_event
from cadence.sequences.halting import cancel_pending_touches, halt_enrollments
from cadence.store.database import transaction
from cadence.store.models import (
    ENROLLMENTS,
    TOUCHES,
    AuditEntry,
    Enrollment,
    MailboxDay,
    Prospect,
    Task,
    Touch,
)
from cadence.transports import FileOutbox
from tests.integration.batch_setup import (
    AT,
    CALL_THEN_EMAIL,
    RETIRED,
    berlins,
    config_with,
    import_rows,
    queue_due,
)
from tests.integration.conftest import START

pytestmark = pytest.mark.integration


def _started_today(ctx: AppContext, owner: str) -> int:
    with transaction(ctx.engine) as session:
        counter = session.get(MailboxDay, (owner, AT.date()))
    return 0 if counter is None else counter.started


def _sent(outcomes: dict[int, str]) -> int:
    return sum(outcome == "sent" for outcome in outcomes.values())


# 1. The mailbox counter after the one-by-one fallback -----------------------------------------


@pytest.mark.parametrize("breaks", ["cadence-deleted", "address-breaks-compose"])
def test_the_mailbox_counter_counts_only_the_emails_sent_after_a_claim_falls_back(
    make_context: Callable[..., AppContext], tmp_path: Path, breaks: str
) -> None:
    """The daily cap protects the SDR's mailbox reputation: a batch that broke and was
    claimed again touch by touch must count each email started once, and the broken touch
    not at all, or the mailbox stops early (double count) or overshoots its cap (the lost
    count). "address-breaks-compose" breaks once the batch's sends are reserved (on
    PostgreSQL, before the claim), with the other touches composed."""
    clock = SimulatedClock(START)
    admin = make_context(
        clock=clock, config_dir=config_with(tmp_path, "admin", cadences={"retired": RETIRED})
    )
    worker = make_context(clock=clock, config_dir=config_with(tmp_path, "worker", cadences={}))
    worker.transport = FileOutbox(tmp_path / "outbox")
    import_rows(admin, tmp_path, berlins("ann@acme.example", "bo@globex.example"))
    import_rows(admin, tmp_path, berlins("old@initech.example"))
    fine = ["ann@acme.example", "bo@globex.example"]
    enroll_prospects(admin, fine, "seven-touch", owner=None, actor="t")
    cadence = "retired" if breaks == "cadence-deleted" else "seven-touch"
    enroll_prospects(admin, ["old@initech.example"], cadence, owner=None, actor="t")
    ids = queue_due(admin, clock, AT, step=1)
    if breaks == "address-breaks-compose":  # a header that the email library refuses
        with transaction(admin.engine) as session:
            old = session.exec(select(Prospect).where(Prospect.email == "old@initech.example"))
            prospect = old.one()
            prospect.email = "old@initech.example\nBcc: all@initech.example"
            session.add(prospect)
    broken = ids["old@initech.example"]

    # The broken touch last, so that with a bad address the rest of the batch is composed.
    first = deliver_touches(worker, [ids["ann@acme.example"], ids["bo@globex.example"], broken])

    assert first == {ids["ann@acme.example"]: "sent", ids["bo@globex.example"]: "sent"} | {
        broken: "failed:error"
    }
    outbox = tmp_path / "outbox"
    assert _started_today(worker, "alex") == _sent(first) == len(list(outbox.glob("*.eml")))

    # A second, normal batch later the same UTC day adds exactly its own emails.
    import_rows(admin, tmp_path, berlins("cy@hooli.example", "dee@umbrella.example"))
    later = ["cy@hooli.example", "dee@umbrella.example"]
    enroll_prospects(admin, later, "seven-touch", owner=None, actor="t")
    second_ids = queue_due(admin, clock, AT + timedelta(minutes=30), step=1)
    assert sorted(second_ids) == later
    second = deliver_touches(worker, list(second_ids.values()))

    assert set(second.values()) == {"sent"}
    assert _started_today(worker, "alex") == _sent(first) + _sent(second)
    assert len(list(outbox.glob("*.eml"))) == _sent(first) + _sent(second)


# 2. cancel_pending_touches and the models already loaded --------------------------------------


def test_cancelling_pending_touches_refreshes_the_touch_and_task_models_already_loaded(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """A reply cancels the pending touches and open tasks with set-based UPDATEs that
    bypass the ORM; code later in the same transaction (the halt, its audit, a hand-over)
    that reads a model loaded before must see 'cancelled', or it acts on a touch or a call
    task that no longer exists."""
    clock = SimulatedClock(START)
    ctx = make_context(
        clock=clock, config_dir=config_with(tmp_path, "c", cadences={"call": CALL_THEN_EMAIL})
    )
    ctx.transport = FileOutbox(tmp_path / "outbox")
    import_rows(ctx, tmp_path, berlins("cal@umbrella.example"))
    enroll_prospects(ctx, ["cal@umbrella.example"], "call-then-email", owner=None, actor="t")
    call = queue_due(ctx, clock, AT, step=1)["cal@umbrella.example"]
    assert deliver_touches(ctx, [call]) == {call: "task"}

    with transaction(ctx.engine) as session:
        task = session.exec(select(Task).where(Task.touch_id == call)).one()
        call_touch = session.get(Touch, call)
        assert call_touch is not None
        email = session.exec(
            select(Touch).where(Touch.enrollment_id == call_touch.enrollment_id, Touch.step == 2)
        ).one()
        assert (task.status, email.status) == ("open", "scheduled")

        count = cancel_pending_touches(session, call_touch.enrollment_id, reason="replied")

        assert count == 1
        assert (email.status, email.reason) == ("cancelled", "replied")
        assert (task.status, task.outcome) == ("cancelled", "replied")
        assert call_touch.status == "sent"  # already started: not the function's to cancel


def test_halting_enrollments_refreshes_the_enrollment_models_already_loaded(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """A halt writes its enrollments as rows; under ``halt_account`` a reply halts models
    loaded by the account's lock, which must then read 'halted', not their old state."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    import_rows(ctx, tmp_path, berlins("ann@acme.example"))
    enroll_prospects(ctx, ["ann@acme.example"], "seven-touch", owner=None, actor="t")
    with transaction(ctx.engine) as session:
        enrollment = session.exec(select(Enrollment)).one()
        assert enrollment.state == "active"

        halt_enrollments(session, [enrollment], reason="replied", now=AT, actor="t")

        assert (enrollment.state, enrollment.reason, enrollment.updated_at) == (
            "halted",
            "replied",
            AT,
        )
        first = session.exec(select(Touch).where(Touch.enrollment_id == enrollment.id)).one()
        assert (first.status, first.reason) == ("cancelled", "halted: replied")


# 3. The tick's lock order against a worker's claim -------------------------------------------


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_tick_resuming_an_enrollment_never_deadlocks_with_a_claim_of_its_touch(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """A claim locks an enrollment, then its touches. The tick re-enqueues a stale touch
    (locking it) and resumes out-of-office enrollments (waiting for their lock): in one
    transaction that was the reverse order, and PostgreSQL broke the cycle by failing one
    side as a deadlock."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    import_rows(ctx, tmp_path, berlins("ann@acme.example"))
    enroll_prospects(ctx, ["ann@acme.example"], "seven-touch", owner=None, actor="t")
    touch_id = queue_due(ctx, clock, AT)["ann@acme.example"]
    clock.advance_to(AT + timedelta(minutes=30))  # the queued touch is stale by now
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
        assert touch is not None
        enrollment = session.get(Enrollment, touch.enrollment_id)
        assert enrollment is not None
        enrollment.state = "paused"
        enrollment.resume_at = clock.now() - timedelta(minutes=1)
        session.add(enrollment)
        enrollment_id = enrollment.id

    tick_errors: list[BaseException] = []
    reenqueued: list[int] = []

    def tick() -> None:
        try:
            scheduler_tick(ctx, reenqueued.extend)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            tick_errors.append(exc)

    with ctx.engine.connect() as claim, claim.begin():  # a worker's claim, step by step
        claim.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
        claim.execute(sql_select(ENROLLMENTS.c.id).where(ENROLLMENTS.c.id == enrollment_id)
                      .with_for_update())  # fmt: skip
        thread = threading.Thread(target=tick)
        thread.start()
        _wait_for_a_lock_wait(ctx)  # the tick now waits for the enrollment
        claim.execute(sql_select(TOUCHES.c.id).where(TOUCHES.c.id == touch_id).with_for_update())
    thread.join(30)

    assert tick_errors == []
    assert touch_id in reenqueued  # the stale sweep held its row before the resume
    with transaction(ctx.engine) as session:
        resumed = session.get(Enrollment, enrollment_id)
        assert resumed is not None and resumed.state == "active"


def _wait_for_a_lock_wait(ctx: AppContext) -> None:
    deadline = time.monotonic() + 10
    with ctx.engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if waiting.scalar_one():
                return
            time.sleep(0.02)
    raise AssertionError("the tick never waited for the enrollment's lock")


def test_a_tick_sends_a_touch_lost_on_its_way_to_the_broker_again(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """A tick first asks in one read whether anything is stale; a touch queued and never
    picked up for longer than REQUEUE_AFTER must be found by that read and enqueued again,
    and a tick before then must leave it alone."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    import_rows(ctx, tmp_path, berlins("ann@acme.example"))
    enroll_prospects(ctx, ["ann@acme.example"], "seven-touch", owner=None, actor="t")
    touch_id = queue_due(ctx, clock, AT)["ann@acme.example"]

    early: list[int] = []
    clock.advance_to(AT + REQUEUE_AFTER - timedelta(minutes=1))
    scheduler_tick(ctx, early.extend)
    late: list[int] = []
    clock.advance_to(AT + REQUEUE_AFTER + timedelta(minutes=1))
    scheduler_tick(ctx, late.extend)

    assert (early, late) == ([], [touch_id])
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
        assert touch is not None
        assert (touch.status, touch.enqueues) == ("queued", 2)


# 4. Events recorded together in one transaction -----------------------------------------------


def test_events_in_one_transaction_each_see_the_one_before(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """An event reads the prospect's enrollments as rows; a pause made through the ORM by the
    event before it, in the same transaction, must be seen: the resume finds it paused, and
    the unsubscribe's audit entry says it halted a paused enrollment."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    import_rows(ctx, tmp_path, berlins("ann@acme.example"))
    enroll_prospects(ctx, ["ann@acme.example"], "seven-touch", owner=None, actor="t")

    def record(session: Session, kind: EventKind) -> None:
        record_event(session, ctx.catalog, kind=kind, email="ann@acme.example", now=AT)

    with transaction(ctx.engine) as session:
        record(session, EventKind.PAUSE)
        record(session, EventKind.RESUME)
        record(session, EventKind.PAUSE)
        record(session, EventKind.UNSUBSCRIBE)
    with transaction(ctx.engine) as session:
        moves = session.exec(
            select(AuditEntry.before, AuditEntry.after)
            .where(col(AuditEntry.enrollment_id).is_not(None))
            .where(col(AuditEntry.action).in_(["paused", "active", "halted"]))
            .order_by(col(AuditEntry.id))
        ).all()
    assert moves == [
        ("active", "paused"),
        ("paused", "active"),
        ("active", "paused"),
        ("paused", "halted"),
    ]

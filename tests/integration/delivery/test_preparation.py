"""The work of a claim and of a record is done before they take the enrollment locks a
reply's halt waits for: a batch is checked, rendered and composed before its claim locks
anything (PostgreSQL), and the claim uses what was prepared only for touches whose rows are
unchanged under its locks; a record plans the next steps before it locks."""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy import select as sa_select
from sqlmodel import select

from cadence.authoring.rendering import RenderedContent
from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.delivery import preparation, record
from cadence.delivery.batch import deliver_touches
from cadence.runtime.context import AppContext
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_by_hand
from cadence.store.database import transaction
from cadence.store.models import ENROLLMENTS, PROSPECTS, TOUCHES, Enrollment, Task, Touch
from tests.integration.batch_setup import (
    CALL_THEN_EMAIL,
    berlins,
    between_preparation_and_claim,
    config_with,
    import_rows,
    queue_due,
)
from tests.integration.conftest import START

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

EMAILS = ["ann@acme.example", "bo@acme.example", "cy@acme.example"]


def _queued(
    make_context: Callable[..., AppContext], tmp_path: Path, cadence: str = "seven-touch"
) -> tuple[AppContext, dict[str, int]]:
    """A store with Ann's, Bo's and Cy's first touches queued, at 08:00 in Berlin."""
    clock = SimulatedClock(START)
    config = config_with(tmp_path, cadences={"call-then-email": CALL_THEN_EMAIL})
    ctx = make_context(clock=clock, config_dir=config)
    import_rows(ctx, tmp_path, berlins(*EMAILS))
    enroll_prospects(ctx, EMAILS, cadence, owner=None, actor="t")
    return ctx, queue_due(ctx, clock)


def _count_renders(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The prospects' addresses, one per render of a touch's template."""
    rendered: list[str] = []
    render = ctx.catalog.renderer.render

    def counted(name: str, context: dict[str, Any]) -> RenderedContent:
        rendered.append(str(context["email"]))
        return render(name, context)

    monkeypatch.setattr(ctx.catalog.renderer, "render", counted)
    return rendered


def _sent(ctx: AppContext, touch_id: int) -> Touch:
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
        assert touch is not None
        session.expunge(touch)
    return touch


def test_an_unchanged_batch_is_rendered_once(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, queued = _queued(make_context, tmp_path)
    rendered = _count_renders(ctx, monkeypatch)
    found = deliver_touches(ctx, [queued[e] for e in EMAILS])
    assert [found[queued[e]] for e in EMAILS] == ["sent"] * 3
    assert sorted(rendered) == EMAILS


def _enrollment_of(touch_id: int) -> Any:
    return sa_select(TOUCHES.c.enrollment_id).where(TOUCHES.c.id == touch_id).scalar_subquery()


#: A row of Bo's changed after his batch was prepared, and what his email shows for it.
_CHANGES = {
    # handed to Priya: his email leaves from her mailbox
    "enrollment": (
        lambda bo: (
            update(ENROLLMENTS).where(ENROLLMENTS.c.id == _enrollment_of(bo)).values(owner="priya")
        ),
        lambda touch: "Priya" in (touch.body or ""),
    ),
    # tried and put back meanwhile: the row counts one attempt more
    "touch": (
        lambda bo: (
            update(TOUCHES).where(TOUCHES.c.id == bo).values(attempts=TOUCHES.c.attempts + 1)
        ),
        lambda touch: touch.attempts == 2 and "Alex" in (touch.body or ""),
    ),
}


@pytest.mark.parametrize("changed", sorted(_CHANGES))
def test_a_touch_whose_rows_changed_is_rendered_again_under_the_locks(
    make_context: Callable[..., AppContext],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    changed: str,
) -> None:
    """Bo's email is rendered again from the rows the claim locked; Ann's and Cy's are
    used as prepared."""
    change, shows = _CHANGES[changed]
    ctx, queued = _queued(make_context, tmp_path)
    rendered = _count_renders(ctx, monkeypatch)
    bo = queued["bo@acme.example"]

    def change_bo() -> None:
        with transaction(ctx.engine) as session:
            session.connection().execute(change(bo))

    between_preparation_and_claim(monkeypatch, change_bo)
    found = deliver_touches(ctx, [queued[e] for e in EMAILS])
    assert [found[queued[e]] for e in EMAILS] == ["sent"] * 3
    assert sorted(rendered) == sorted([*EMAILS, "bo@acme.example"])
    assert shows(_sent(ctx, bo))
    assert "Alex" in (_sent(ctx, queued["ann@acme.example"]).body or "")


@pytest.mark.parametrize("halted", [False, True], ids=["issued", "halted-meanwhile"])
def test_a_call_task_is_issued_as_prepared_unless_its_enrollment_stopped(
    make_context: Callable[..., AppContext],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    halted: bool,
) -> None:
    ctx, queued = _queued(make_context, tmp_path, "call-then-email")
    rendered = _count_renders(ctx, monkeypatch)
    if halted:
        between_preparation_and_claim(
            monkeypatch, lambda: record_by_hand(ctx, EventKind.HALT, "bo@acme.example", actor="t")
        )
    found = deliver_touches(ctx, [queued[e] for e in EMAILS])
    bo = "skipped:cancelled" if halted else "task"
    assert [found[queued[e]] for e in EMAILS] == ["task", bo, "task"]
    assert sorted(rendered) == EMAILS
    with transaction(ctx.engine) as session:
        tasks = session.exec(select(Task.touch_id).order_by(Task.touch_id)).all()
    assert tasks == sorted(queued[e] for e in EMAILS if not (halted and e.startswith("bo")))


def test_a_prospect_changed_after_preparation_is_sent_as_prepared(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prospect's row is not locked by a claim, before or now: an edit committed while a
    batch is prepared reaches the emails of later claims, as an edit committed a moment
    after the claim always did. A stop that must reach this claim halts the enrollment,
    which the claim re-reads under its locks (test_send_limits)."""
    ctx, queued = _queued(make_context, tmp_path)

    def rename_ann() -> None:
        with transaction(ctx.engine) as session:
            session.connection().execute(
                update(PROSPECTS)
                .where(PROSPECTS.c.email == "ann@acme.example")
                .values(first_name="Annabel")
            )

    between_preparation_and_claim(monkeypatch, rename_ann)
    found = deliver_touches(ctx, [queued["ann@acme.example"]])
    assert found == {queued["ann@acme.example"]: "sent"}
    assert "Annabel" not in _sent(ctx, queued["ann@acme.example"]).body  # type: ignore[operator]


def test_a_record_plans_the_next_steps_before_it_locks_the_enrollments(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, queued = _queued(make_context, tmp_path)
    planning, go_on = threading.Event(), threading.Event()
    plan = record.next_touch

    def slow_plan(*args: Any, **kwargs: Any) -> Any:
        planning.set()
        go_on.wait(timeout=30)
        return plan(*args, **kwargs)

    monkeypatch.setattr(record, "next_touch", slow_plan)
    found: dict[int, str] = {}
    ids = [queued[e] for e in EMAILS]
    worker = threading.Thread(target=lambda: found.update(deliver_touches(ctx, ids)))
    worker.start()
    try:
        assert planning.wait(timeout=30)
        with transaction(ctx.engine) as other:
            locked = other.exec(select(Enrollment).with_for_update(nowait=True)).all()
    finally:
        go_on.set()
        worker.join(timeout=60)
    assert len(locked) == 3
    assert [found[i] for i in ids] == ["sent"] * 3
    with transaction(ctx.engine) as session:
        steps = session.exec(select(Touch.step, Touch.status).order_by(Touch.id)).all()
    assert sorted(steps) == [(1, "sent")] * 3 + [(2, "scheduled")] * 3


def test_a_claim_that_broke_fails_its_touch_only_if_no_halt_came_first(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann's claim breaks, and a halt arrives while the crash is recorded: whichever commits
    first, Ann's enrollment ends halted, never paused (a paused one can be resumed)."""
    ctx, queued = _queued(make_context, tmp_path)
    ann = queued["ann@acme.example"]

    def broken(*args: Any) -> Any:
        armed.set()
        raise RuntimeError("a template filter crashed")

    monkeypatch.setattr(preparation, "_attempt", broken)
    armed = threading.Event()
    halts: list[threading.Thread] = []

    def halt_after_first_read(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if armed.is_set() and statement.lstrip().upper().startswith("SELECT"):
            armed.clear()
            halt = threading.Thread(
                target=record_by_hand, args=(ctx, EventKind.HALT, "ann@acme.example")
            )
            halt.start()
            halts.append(halt)
            halt.join(timeout=1)  # commits now unless the crash's transaction holds the lock

    event.listen(ctx.engine, "after_cursor_execute", halt_after_first_read)
    try:
        assert deliver_touches(ctx, [ann]) == {ann: "failed:error"}
    finally:
        event.remove(ctx.engine, "after_cursor_execute", halt_after_first_read)
    assert len(halts) == 1
    halts[0].join(timeout=30)
    with transaction(ctx.engine) as session:
        enrollment = session.get(Enrollment, _sent(ctx, ann).enrollment_id)
        assert enrollment is not None
        assert enrollment.state == "halted"

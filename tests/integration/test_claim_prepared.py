"""A batch is checked, rendered and composed before its claim locks anything (PostgreSQL);
the claim uses what was prepared only for touches whose rows are unchanged under its locks."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from cadence import services, touch_claim
from cadence.clock import SimulatedClock
from cadence.context import AppContext
from cadence.database import transaction
from cadence.delivery import deliver_touches
from cadence.models import ENROLLMENTS, PROSPECTS, Touch
from cadence.rendering import RenderedContent

from .batch_setup import berlins, import_rows, queue_due
from .conftest import START

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

EMAILS = ["ann@acme.example", "bo@acme.example", "cy@acme.example"]


def _queued(ctx: AppContext, tmp_path: Path, clock: SimulatedClock) -> dict[str, int]:
    import_rows(ctx, tmp_path, berlins(*EMAILS))
    services.enroll_prospects(ctx, EMAILS, "seven-touch", owner=None, actor="t")
    return queue_due(ctx, clock)


def _count_renders(ctx: AppContext, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The prospects' addresses, one per render of a touch's template."""
    rendered: list[str] = []
    render = ctx.catalog.renderer.render

    def counted(name: str, context: dict[str, Any]) -> RenderedContent:
        rendered.append(str(context["email"]))
        return render(name, context)

    monkeypatch.setattr(ctx.catalog.renderer, "render", counted)
    return rendered


def _between_preparation_and_claim(
    monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]
) -> None:
    lock = touch_claim.locked_touch_views

    def changed_first(session: Any, touch_ids: Any) -> Any:
        change()
        monkeypatch.setattr(touch_claim, "locked_touch_views", lock)
        return lock(session, touch_ids)

    monkeypatch.setattr(touch_claim, "locked_touch_views", changed_first)


def _sent(ctx: AppContext, touch_id: int) -> Touch:
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
        assert touch is not None
        session.expunge(touch)
    return touch


def test_an_unchanged_batch_is_rendered_once(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    queued = _queued(ctx, tmp_path, clock)
    rendered = _count_renders(ctx, monkeypatch)
    found = deliver_touches(ctx, [queued[e] for e in EMAILS])
    assert [found[queued[e]] for e in EMAILS] == ["sent"] * 3
    assert sorted(rendered) == EMAILS


def test_a_touch_whose_enrollment_changed_is_rendered_again_under_the_locks(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bo's enrollment is handed to Priya after the batch was prepared as Alex's: his email
    is rendered again and leaves from Priya's mailbox; Ann's and Cy's are used as prepared."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    queued = _queued(ctx, tmp_path, clock)
    rendered = _count_renders(ctx, monkeypatch)
    bo = queued["bo@acme.example"]

    def hand_bo_to_priya() -> None:
        with transaction(ctx.engine) as session:
            session.connection().execute(
                update(ENROLLMENTS)
                .where(ENROLLMENTS.c.id == select_enrollment_of(session, bo))
                .values(owner="priya")
            )

    _between_preparation_and_claim(monkeypatch, hand_bo_to_priya)
    found = deliver_touches(ctx, [queued[e] for e in EMAILS])
    assert [found[queued[e]] for e in EMAILS] == ["sent"] * 3
    assert sorted(rendered) == sorted([*EMAILS, "bo@acme.example"])
    assert "Priya" in _sent(ctx, bo).body  # type: ignore[operator]
    assert "Alex" in _sent(ctx, queued["ann@acme.example"]).body  # type: ignore[operator]


def test_a_prospect_changed_after_preparation_is_sent_as_prepared(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prospect's row is not locked by a claim, before or now: an edit committed while a
    batch is prepared reaches the emails of later claims, as an edit committed a moment
    after the claim always did. A stop that must reach this claim halts the enrollment,
    which the claim re-reads under its locks (test_send_limits)."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    queued = _queued(ctx, tmp_path, clock)

    def rename_ann() -> None:
        with transaction(ctx.engine) as session:
            session.connection().execute(
                update(PROSPECTS)
                .where(PROSPECTS.c.email == "ann@acme.example")
                .values(first_name="Annabel")
            )

    _between_preparation_and_claim(monkeypatch, rename_ann)
    found = deliver_touches(ctx, [queued["ann@acme.example"]])
    assert found == {queued["ann@acme.example"]: "sent"}
    assert "Annabel" not in _sent(ctx, queued["ann@acme.example"]).body  # type: ignore[operator]


def select_enrollment_of(session: Any, touch_id: int) -> int:
    touch = session.get(Touch, touch_id)
    assert touch is not None
    return int(touch.enrollment_id)

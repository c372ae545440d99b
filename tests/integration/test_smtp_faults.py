"""SMTP faults against a real server on loopback: a touch is sent at most once whatever the
server does, and a problem on our side never halts a prospect's cadence."""

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import col, select

from cadence.core.clock import SimulatedClock
from cadence.core.errors import TransientDeliveryError
from cadence.core.holds import MAX_ATTEMPTS
from cadence.delivery.batch import deliver_touch
from cadence.runtime.context import AppContext
from cadence.scheduler.tick import scheduler_tick
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Touch

from .conftest import START
from .smtp_sink import smtp_sink
from .test_engine import _setup

pytestmark = pytest.mark.integration


def _claim_first(ctx: AppContext, clock: SimulatedClock) -> int:
    with transaction(ctx.engine) as session:
        touch = session.exec(
            select(Touch).where(Touch.status == "scheduled").order_by(col(Touch.due_at))
        ).first()
    assert touch is not None and touch.id is not None
    clock.advance_to(touch.due_at)
    claimed: list[int] = []
    scheduler_tick(ctx, claimed.extend)
    assert touch.id in claimed
    return touch.id


def _state(ctx: AppContext, touch_id: int) -> tuple[str, str]:
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
        assert touch is not None
        enrollment = session.get(Enrollment, touch.enrollment_id)
        assert enrollment is not None
    return touch.status, enrollment.state


def test_lost_answer_after_data_is_unconfirmed_and_not_resent(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    with smtp_sink() as (sink, url):
        sink.answer_delay = 2.0
        clock = SimulatedClock(START)
        ctx = make_context(clock=clock, smtp_url=f"{url}?timeout=0.5")
        _setup(ctx, tmp_path)
        touch_id = _claim_first(ctx, clock)
        assert deliver_touch(ctx, touch_id) == "unconfirmed"
        assert deliver_touch(ctx, touch_id) == "skipped:unconfirmed"  # a redelivered message
    assert len(sink.received) == 1
    assert _state(ctx, touch_id) == ("unconfirmed", "active")


def test_temporary_refusals_are_retried_then_sent_once(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    with smtp_sink() as (sink, url):
        sink.data_answers = ["451 4.3.0 try again later", "421 4.7.0 busy"]
        clock = SimulatedClock(START)
        ctx = make_context(clock=clock, smtp_url=url)
        _setup(ctx, tmp_path)
        touch_id = _claim_first(ctx, clock)
        for _ in range(2):
            with pytest.raises(TransientDeliveryError):
                deliver_touch(ctx, touch_id)
            assert _state(ctx, touch_id) == ("queued", "active")
        assert deliver_touch(ctx, touch_id) == "sent"
    assert len(sink.received) == 1
    assert _state(ctx, touch_id) == ("sent", "active")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_wrong_smtp_password_never_halts_a_prospect(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    with smtp_sink(auth=True) as (sink, url):
        clock = SimulatedClock(START)
        wrong = url.replace("smtp://", "smtp://alex:wrong@") + "?timeout=2"
        ctx = make_context(clock=clock, smtp_url=wrong)
        _setup(ctx, tmp_path)
        touch_id = _claim_first(ctx, clock)
        for _ in range(MAX_ATTEMPTS):
            with pytest.raises(TransientDeliveryError, match="log in"):
                deliver_touch(ctx, touch_id)
        # Out of attempts: failed and paused for a person, not halted; resume tries again.
        assert deliver_touch(ctx, touch_id) == "failed"
        assert _state(ctx, touch_id) == ("failed", "paused")
    assert sink.received == []


def test_one_connection_is_reused_for_many_emails(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    with smtp_sink() as (sink, url):
        clock = SimulatedClock(START)
        ctx = make_context(clock=clock, smtp_url=url)
        _setup(ctx, tmp_path)
        sent = 0
        for _ in range(3):
            touch_id = _claim_first(ctx, clock)
            assert deliver_touch(ctx, touch_id) == "sent"
            sent += 1
    assert len(sink.received) == sent == 3
    assert sink.sessions == 1

"""The same engine on real services: dramatiq's Redis broker, and SMTP to a server on
loopback, with PostgreSQL and SQLite stores."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.runtime.context import AppContext
from cadence.sequences.events import record_by_hand
from cadence.store.database import transaction
from cadence.store.models import Event, Touch
from tests.integration.conftest import START
from tests.integration.engine.test_engine import EMAILS, _setup
from tests.integration.smtp_sink import smtp_sink
from workers.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration


def _touches(ctx: AppContext) -> list[Touch]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(Touch).order_by(col(Touch.id))))


def test_redis_broker_runs_the_cadence_with_a_reply(
    make_context: Callable[..., AppContext], flushed_redis: str, tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, redis_url=flushed_redis)
    _setup(ctx, tmp_path)
    with EmbeddedEngine(ctx, worker_threads=4) as engine:
        assert type(engine.broker).__name__ == "RedisBroker"
        engine.simulate(clock, START + timedelta(days=6))
        record_by_hand(ctx, EventKind.REPLY, EMAILS[1], actor="test")
        engine.simulate(clock, START + timedelta(days=40))
    touches = _touches(ctx)
    with transaction(ctx.engine) as session:
        reply = session.exec(select(Event).where(Event.kind == "reply")).one()
    bo = [t for t in touches if t.prospect_id == 2]
    assert all(t.started_at is None or t.started_at <= reply.recorded_at for t in bo)
    assert bo[-1].status == "cancelled"
    ann_sent = [t for t in touches if t.prospect_id == 1 and t.status == "sent"]
    assert len(ann_sent) >= 7
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == sum(1 for t in touches if t.channel == "email" and t.status == "sent")


def test_smtp_delivery_reuses_connections_and_threads_bumps(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    with smtp_sink() as (sink, url):
        clock = SimulatedClock(START)
        ctx = make_context(clock=clock, smtp_url=url)
        _setup(ctx, tmp_path)
        with EmbeddedEngine(ctx, worker_threads=2) as engine:
            engine.simulate(clock, START + timedelta(days=8))
    touches = _touches(ctx)
    sent = [t for t in touches if t.channel == "email" and t.status == "sent"]
    assert len(sink.received) == len(sent) >= 6
    assert not (tmp_path / "outbox").exists()
    ids = [r.message["Message-ID"] for r in sink.received]
    assert sorted(ids) == sorted(t.message_id for t in sent)
    for item in sink.received:
        assert item.mail_from == "alex@brightwave.example"
        message = item.message
        if message["In-Reply-To"]:
            parent = next(t for t in sent if t.message_id == message["In-Reply-To"])
            assert parent.step == 1
            assert message["Subject"].startswith("Re: ")


def test_smtp_permanent_refusal_fails_the_touch_and_halts(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    with smtp_sink() as (sink, url):
        sink.refuse["bo@globex.example"] = "550 5.1.1 <bo@globex.example>: user unknown"
        clock = SimulatedClock(START)
        ctx = make_context(clock=clock, smtp_url=url)
        _setup(ctx, tmp_path)
        with EmbeddedEngine(ctx, worker_threads=2) as engine:
            engine.simulate(clock, START + timedelta(days=2))
    bo = [t for t in _touches(ctx) if t.prospect_id == 2]
    assert [t.status for t in bo] == ["failed"]
    assert bo[0].reason is not None and "550" in bo[0].reason
    assert all(r.rcpt_tos != ["bo@globex.example"] for r in sink.received)

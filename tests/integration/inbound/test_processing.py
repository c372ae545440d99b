"""Inbound mail through the CLI path: stored raw first, matched by Message-ID, applied."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import col, select

from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.inbound.processing import process_inbound
from cadence.runtime.context import AppContext
from cadence.sequences.events import record_by_hand
from cadence.store.database import transaction
from cadence.store.models import AuditEntry, Enrollment, Event, Prospect, Suppression, Touch
from tests.integration.conftest import START
from tests.integration.engine.test_engine import _setup
from workers.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration


def _sent_first_touches(ctx: AppContext, clock: SimulatedClock) -> dict[int, Touch]:
    with EmbeddedEngine(ctx, worker_threads=2) as engine:
        engine.simulate(clock, START + timedelta(days=2))
    with transaction(ctx.engine) as session:
        touches = session.exec(select(Touch).where(Touch.status == "sent")).all()
    return {t.prospect_id: t for t in touches}


def _reply_to(touch: Touch, sender: str, body: str, extra: str = "") -> bytes:
    return (
        f"From: Someone <{sender}>\r\nTo: alex@brightwave.example\r\n"
        f"Subject: Re: {touch.subject}\r\nMessage-ID: <r{touch.id}.{len(body)}@mail.example>\r\n"
        f"In-Reply-To: {touch.message_id}\r\nReferences: {touch.message_id}\r\n{extra}"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n"
    ).encode()


def test_reply_from_another_address_matches_by_message_id_and_halts(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    first = _sent_first_touches(ctx, clock)
    raw = _reply_to(
        first[1],
        "ann.lee@personal.example",
        "Sounds interesting, can we talk Thursday?\n\nOn Mon, Alex wrote:\n> Hi Ann",
    )
    result = process_inbound(ctx, raw, label="r1.eml")
    assert (result.kind, result.prospect) == ("reply", "ann@acme.example")
    assert result.reply_text is not None and "Thursday" in result.reply_text
    assert "Hi Ann" not in result.reply_text
    again = process_inbound(ctx, raw, label="r1-again.eml")
    assert again.duplicate
    with transaction(ctx.engine) as session:
        events = session.exec(select(Event)).all()
        state = session.exec(select(Enrollment).where(Enrollment.prospect_id == 1)).one().state
    assert len(events) == 1
    assert events[0].raw is not None and events[0].raw.encode() == raw
    assert state == "halted"


def test_out_of_office_pauses_then_resumes_on_the_return_date(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    first = _sent_first_touches(ctx, clock)
    raw = _reply_to(
        first[2],
        "bo@globex.example",
        "I am out of the office until 2 December 2026 with limited access to email.",
        extra="Auto-Submitted: auto-replied\r\n",
    )
    result = process_inbound(ctx, raw, label="ooo.eml")
    assert (result.kind, result.return_date) == ("auto_reply", "2026-12-02")
    with transaction(ctx.engine) as session:
        bo = session.exec(select(Enrollment).where(Enrollment.prospect_id == 2)).one()
    assert bo.state == "paused"
    assert bo.resume_at is not None
    with EmbeddedEngine(ctx, worker_threads=2) as engine:
        engine.simulate(clock, START + timedelta(days=20))
    with transaction(ctx.engine) as session:
        touches = session.exec(
            select(Touch).where(Touch.prospect_id == 2).order_by(col(Touch.step))
        ).all()
    second = touches[1]
    assert second.started_at is not None
    assert second.started_at.date().isoformat() >= "2026-12-02"


def test_hard_bounce_suppresses_and_soft_bounces_halt_after_three(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    first = _sent_first_touches(ctx, clock)

    def dsn(touch: Touch, status: str, n: int) -> bytes:
        rcpt = "bo@globex.example" if touch.prospect_id == 2 else "cy@initech.example"
        return (
            "From: MAILER-DAEMON@mx.example\r\nTo: alex@brightwave.example\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b{n}@mx.example>\r\n"
            "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example\r\n\r\n"
            f"Final-Recipient: rfc822; {rcpt}\r\n"
            f"Action: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {status} problem\r\n\r\n"
            "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"Message-ID: {touch.message_id}\r\nSubject: {touch.subject}\r\n\r\n--B--\r\n"
        ).encode()

    hard = process_inbound(ctx, dsn(first[2], "5.1.1", 1), label="hard.eml")
    assert (hard.kind, hard.bounce, hard.prospect) == ("bounce", "hard", "bo@globex.example")
    for n in range(2, 4):
        soft = process_inbound(ctx, dsn(first[3], "4.2.2", n), label=f"soft{n}.eml")
        assert soft.bounce == "soft"
    with transaction(ctx.engine) as session:
        states = {e.prospect_id: e.state for e in session.exec(select(Enrollment))}
        suppressed = [s.value for s in session.exec(select(Suppression))]
    assert states[2] == "halted"
    assert states[3] == "active"  # two soft bounces are not enough
    assert suppressed == ["bo@globex.example"]
    process_inbound(ctx, dsn(first[3], "4.2.2", 9), label="soft9.eml")
    with transaction(ctx.engine) as session:
        cy_state = session.exec(select(Enrollment).where(Enrollment.prospect_id == 3)).one().state
        cy = session.exec(select(Prospect).where(Prospect.id == 3)).one()
    assert (cy_state, cy.email_status) == ("halted", "invalid")


def test_unknown_sender_is_kept_unmatched_and_dry_run_changes_nothing(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    ctx = make_context()
    _setup(ctx, tmp_path)
    raw = (
        b"From: stranger@else.example\r\nSubject: hello\r\nMessage-ID: <x@else>\r\n\r\nHi there\r\n"
    )
    dry = process_inbound(ctx, raw, label="x.eml", dry_run=True)
    assert (dry.kind, dry.prospect) == ("reply", None)
    with transaction(ctx.engine) as session:
        assert session.exec(select(Event)).all() == []
    process_inbound(ctx, raw, label="x.eml")
    with transaction(ctx.engine) as session:
        event = session.exec(select(Event)).one()
    assert event.prospect_id is None
    assert event.detail["matched"] is False
    garbage = process_inbound(ctx, b"\xff\xfe\x00garbage\x00\r\n\r\n\x00", label="g.eml")
    assert garbage.kind == "unknown"


def test_a_reply_writes_its_entry_and_the_halts_in_one_statement_in_order(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """The reply's own audit entry comes before the halt's, as it happened, written together
    with it: a reply waits on every round trip, and under load each costs milliseconds."""
    ctx = make_context(clock=SimulatedClock(START))
    _setup(ctx, tmp_path)
    inserts: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDITENTRY"):
            inserts.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        record_by_hand(ctx, EventKind.REPLY, "ann@acme.example", actor="test")
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    with transaction(ctx.engine) as session:
        ann = session.exec(select(Prospect).where(Prospect.email == "ann@acme.example")).one()
        entries = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.prospect_id == ann.id)
            .order_by(col(AuditEntry.id))
        ).all()
    assert entries[-2:] == ["event:reply", "halted"]
    assert len(inserts) == 1

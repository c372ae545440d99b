"""Inbound mail is untrusted: a forged report harms nobody, and hostile headers are data."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from cadence.core.clock import SimulatedClock
from cadence.inbound.processing import process_inbound
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Event, Suppression
from tests.integration.conftest import START
from tests.integration.engine.test_engine import _setup
from tests.integration.inbound.test_processing import _sent_first_touches

pytestmark = pytest.mark.integration

VICTIM = "bo@globex.example"

FORGED_DSN = (
    "From: Mallory <mallory@evil.example>\r\nTo: alex@brightwave.example\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <forged1@evil.example>\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
    'boundary="B"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n'
    f"Reporting-MTA: dns; mx.evil.example\r\n\r\nFinal-Recipient: rfc822; {VICTIM}\r\n"
    "Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
    "\r\n--B--\r\n"
)
FORGED_PLAIN = (
    "From: MAILER-DAEMON@evil.example\r\nTo: alex@brightwave.example\r\n"
    "Subject: Mail delivery failed: returning message to sender\r\n"
    "Message-ID: <forged2@evil.example>\r\n\r\n"
    "This message was created automatically by mail delivery software.\r\n\r\n"
    "A message that you sent could not be delivered to one or more of its recipients. "
    f"This is a permanent error. The following address(es) failed:\r\n\r\n  {VICTIM}\r\n"
    "    SMTP error from remote mail server after RCPT TO: 550 5.1.1 User unknown\r\n"
)
FORGED_ARF = (
    "From: abuse@evil.example\r\nTo: alex@brightwave.example\r\nSubject: Abuse report\r\n"
    "Message-ID: <forged3@evil.example>\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/report; report-type=feedback-report; boundary="B"\r\n\r\n'
    "--B\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
    "--B\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
    f"User-Agent: evil/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: {VICTIM}\r\n\r\n--B--\r\n"
)


@pytest.mark.parametrize("forged", [FORGED_DSN, FORGED_PLAIN, FORGED_ARF])
def test_a_report_citing_none_of_our_messages_halts_and_suppresses_nobody(
    make_context: Callable[..., AppContext], tmp_path: Path, forged: str
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    _sent_first_touches(ctx, clock)

    result = process_inbound(ctx, forged.encode(), label="forged.eml")

    assert result.kind in ("bounce", "complaint")
    assert result.prospect is None
    with transaction(ctx.engine) as session:
        states = {e.state for e in session.exec(select(Enrollment))}
        suppressed = session.exec(select(Suppression)).all()
        kept = session.exec(select(Event).where(Event.id == result.event_id)).one()
    assert states == {"active"}
    assert suppressed == []
    assert kept.prospect_id is None  # kept for a person to review


@pytest.mark.parametrize(
    "header",
    [
        "From: Ann <ann@acme.\x00example>",
        "Message-ID: <nul\x00@mail.example>",
        "In-Reply-To: <a\x00b@brightwave.example>",
        "References: <a\x00b@brightwave.example> <c@d>",
    ],
)
def test_nul_in_a_header_is_data_on_every_store(
    make_context: Callable[..., AppContext], tmp_path: Path, header: str
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    raw = (
        f"{header}\r\nTo: alex@brightwave.example\r\nSubject: hello\r\n\r\nThanks, call me.\r\n"
    ).encode()
    if not header.startswith("From:"):
        raw = b"From: ann@acme.example\r\n" + raw

    dry = process_inbound(ctx, raw, label="nul.eml", dry_run=True)
    applied = process_inbound(ctx, raw, label="nul.eml")

    assert dry.kind == applied.kind
    assert "\x00" not in str(applied.contract_json())


def test_encoded_words_in_a_huge_subject_are_read_in_bounded_time(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    ctx = make_context(clock=SimulatedClock(START))
    _setup(ctx, tmp_path)
    subject = " ".join(["=?utf-8?q?na=C3=AFve?="] * 100_000)
    raw = f"From: ann@acme.example\r\nSubject: {subject}\r\n\r\nSure, Tuesday works.\r\n"

    result = process_inbound(ctx, raw.encode(), label="bomb.eml", dry_run=True)

    assert result.kind == "reply"


def test_an_out_of_office_date_too_far_out_is_not_trusted(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """A return date already past is read as next year's; a pause that long is a
    misreading, and the default pause applies."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    first = _sent_first_touches(ctx, clock)
    received = clock.now()
    stale = (received - timedelta(days=3)).strftime("%B %-d")
    raw = (
        "From: Ann <ann@acme.example>\r\nTo: alex@brightwave.example\r\n"
        "Subject: Automatic reply: hello\r\nAuto-Submitted: auto-replied\r\n"
        f"In-Reply-To: {first[1].message_id}\r\nMessage-ID: <ooo1@acme.example>\r\n\r\n"
        f"I am out of the office until {stale} with limited access to email.\r\n"
    ).encode()

    result = process_inbound(ctx, raw, label="ooo.eml")

    assert result.kind == "auto_reply"
    with transaction(ctx.engine) as session:
        paused = session.exec(select(Enrollment).where(Enrollment.prospect_id == 1)).one()
    assert paused.state == "paused"
    assert paused.resume_at is not None
    assert paused.resume_at - received < timedelta(days=30)


def test_a_reply_stored_but_not_applied_is_applied_when_read_again(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader killed between storing a reply and applying it reads it again after its
    checkpoint: the reply must halt then, once, not count as a duplicate for ever."""
    from cadence.inbound import processing

    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    first = _sent_first_touches(ctx, clock)
    raw = (
        "From: Ann <ann@acme.example>\r\nTo: alex@brightwave.example\r\nSubject: Re: hi\r\n"
        f"In-Reply-To: {first[1].message_id}\r\nMessage-ID: <crash1@acme.example>\r\n\r\n"
        "Sounds good, call me Thursday.\r\n"
    ).encode()
    applying = processing.apply_stored_event

    def dies(*_: object, **__: object) -> None:
        raise KeyboardInterrupt  # the process stops between the two commits

    monkeypatch.setattr(processing, "apply_stored_event", dies)
    with pytest.raises(KeyboardInterrupt):
        process_inbound(ctx, raw, label="reply.eml")
    monkeypatch.setattr(processing, "apply_stored_event", applying)

    again = process_inbound(ctx, raw, label="reply.eml")
    third = process_inbound(ctx, raw, label="reply.eml")

    assert (again.duplicate, third.duplicate) == (False, True)
    with transaction(ctx.engine) as session:
        state = session.exec(select(Enrollment).where(Enrollment.prospect_id == 1)).one().state
        replies = session.exec(select(Event).where(Event.prospect_id == 1)).all()
    assert state == "halted"
    assert [e.kind for e in replies] == ["reply"]

"""A challenge-response request and a rejection of the sender, through the inbound path."""

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import select

from cadence.core.clock import SimulatedClock
from cadence.inbound.processing import process_inbound
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Event, MailboxDay, Suppression
from tests.integration.conftest import START
from tests.integration.engine.test_engine import _setup
from tests.integration.inbound.test_processing import _sent_first_touches

pytestmark = pytest.mark.integration


def test_a_challenge_pauses_nothing_and_a_blocked_ip_suppresses_nobody(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    first = _sent_first_touches(ctx, clock)
    challenge = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.safemail.example>\r\n"
        "To: alex@brightwave.example\r\nSubject: Your message was not delivered\r\n"
        f"Message-ID: <c1@mx.safemail.example>\r\nIn-Reply-To: {first[1].message_id}\r\n\r\n"
        "Your message has been held. Please verify you are a human by clicking the link "
        "below: https://safemail.example/c/1\r\n"
    ).encode()
    blocked = (
        "From: MAILER-DAEMON@mx.example\r\nTo: alex@brightwave.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@mx.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n'
        "Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; bo@globex.example\r\n"
        "Action: failed\r\nStatus: 5.7.1\r\nDiagnostic-Code: smtp; 554 5.7.1 Client host "
        "[192.0.2.7] blocked using zen.spamhaus.org\r\n\r\n--B\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {first[2].message_id}\r\n\r\n--B--\r\n"
    ).encode()

    held = process_inbound(ctx, challenge, label="challenge.eml")
    rejected = process_inbound(ctx, blocked, label="blocked.eml")

    assert (held.kind, held.prospect, held.bounce) == ("challenge", "ann@acme.example", None)
    assert held.contract_json()["bounce_reason"] is None
    assert (rejected.kind, rejected.bounce, rejected.prospect) == (
        "bounce",
        "soft",
        "bo@globex.example",
    )
    assert rejected.contract_json()["bounce_reason"] == "blocked"
    assert rejected.rejects_sender
    with transaction(ctx.engine) as session:
        states = {e.prospect_id: e.state for e in session.exec(select(Enrollment))}
        suppressed = session.exec(select(Suppression)).all()
        details = [e.detail for e in session.exec(select(Event).order_by(Event.id))]
    assert states[1] == "active"
    assert suppressed == []
    assert details[-1]["rejects_sender"] is True
    assert details[-2]["verdict"] == "challenge"


def _blocked_bounce(recipient: str, message_id: str, n: int) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example\r\nTo: alex@brightwave.example\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <blocked{n}@mx.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="B"\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n'
        f"Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\nStatus: 5.7.1\r\nDiagnostic-Code: smtp; 554 5.7.1 Client host "
        "[192.0.2.7] blocked using zen.spamhaus.org\r\n\r\n--B\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\n\r\n--B--\r\n"
    ).encode()


def test_rejections_of_the_sender_never_halt_the_prospect_and_count_against_the_mailbox(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """Unlike soft bounces, which halt at the third, a blocklist's rejections leave the
    prospect's sequence running however many come, and each is counted on the day row of
    the mailbox that sent, for the deliverability guard."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    first = _sent_first_touches(ctx, clock)
    for n in range(4):
        result = process_inbound(
            ctx, _blocked_bounce("bo@globex.example", str(first[2].message_id), n), label=f"{n}"
        )
        assert (result.kind, result.rejects_sender) == ("bounce", True)
    with transaction(ctx.engine) as session:
        enrollment = session.exec(select(Enrollment).where(Enrollment.prospect_id == 2)).one()
        kinds = {e.kind for e in session.exec(select(Event).where(Event.prospect_id == 2))}
        suppressed = session.exec(select(Suppression)).all()
        counted = session.exec(select(MailboxDay)).all()
    assert enrollment.state == "active"
    assert kinds == {"sender_rejected"}
    assert suppressed == []
    assert sum(day.rejections for day in counted) == 4
    assert sum(day.hard_bounces + day.complaints for day in counted) == 0

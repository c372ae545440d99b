"""Which messages may be a bounce or a complaint by their headers alone: the mailbox reader
reads the body of no other message that is not in a thread of ours or from a prospect.
Every fixture that classifies as a bounce or complaint must be one of them."""

from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from cadence.inbound.classification import classify_message
from cadence.inbound.classification.bounce_signs import may_be_a_report

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "inbound"
RECEIVED = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PLAIN = "From: Sam <sam@friends.example>\r\nSubject: Dinner on Friday?\r\n"


def _head(text: str) -> bool:
    return may_be_a_report(BytesHeaderParser().parsebytes(f"{text}\r\nbody\r\n".encode()))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (PLAIN, False),
        (PLAIN + "Content-Type: text/plain; charset=utf-8\r\n", False),
        (PLAIN + 'Content-Type: multipart/alternative; boundary="a"\r\n', False),
        (PLAIN + 'Content-Type: multipart/mixed; boundary="a"\r\n', True),
        (PLAIN + "Content-Type: multipart/report; report-type=delivery-status\r\n", True),
        ("From: MAILER-DAEMON@mx.example\r\nSubject: hello\r\n", True),
        ("From: Mail Delivery Subsystem <robot@mx.example>\r\nSubject: hello\r\n", True),
        ("From: robot@mx.example\r\nSubject: Undeliverable: our call\r\n", True),
        ("From: robot@mx.example\r\nSubject: Abuse report for your IP\r\n", True),
        (PLAIN + "Return-Path: < >\r\n", True),
        (PLAIN + "Auto-Submitted: auto-replied\r\n", True),
        (PLAIN + "Auto-Submitted: no\r\n", False),
    ],
)
def test_headers_that_leave_a_report_open(headers: str, expected: bool) -> None:
    assert _head(headers) is expected


def test_every_bounce_and_complaint_fixture_is_one() -> None:
    reports = []
    for path in sorted(FIXTURES.rglob("*.rfc822")):
        raw = path.read_bytes()
        verdict = classify_message(raw, received_at=RECEIVED)
        if verdict.kind in ("bounce", "complaint"):
            reports.append(path.name)
            assert may_be_a_report(BytesHeaderParser().parsebytes(raw)), path.name
    assert len(reports) >= 5

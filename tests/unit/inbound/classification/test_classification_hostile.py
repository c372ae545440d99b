"""Any bytes in, a verdict out: broken MIME, odd charsets, huge bodies, fuzzed input."""

from __future__ import annotations

import datetime
import random
import time
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadence.inbound.classification import Kind, Verdict, classify_message
from cadence.inbound.classification.bounce_reasons import REASONS

RECEIVED_AT = datetime.datetime(2027, 3, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
KINDS = set(get_args(Kind))


def classify(raw: bytes) -> Verdict:
    return classify_message(raw, received_at=RECEIVED_AT)


def assert_well_formed(verdict: Verdict) -> None:
    assert verdict.kind in KINDS
    assert (verdict.bounce is not None) is (verdict.kind == "bounce")
    assert (verdict.bounce_reason in REASONS) is (verdict.kind == "bounce")
    assert isinstance(verdict.reason, str)
    assert verdict.reason
    assert all(isinstance(address, str) for address in verdict.addresses)


HEAD = b"From: Ann <ann@x.example>\r\nTo: sam@y.example\r\nSubject: Re: hi\r\n"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 100,
        b"From:\r\n\r\n",
        b"From: <>\r\nSubject:\r\n\r\n",
        b":::\r\n: :\r\n\r\nbody",
        b"Subject: =?utf-8?q?broken\r\n\r\nhi",
        b"Subject: =?x-unknown?b?AAAA?=\r\n\r\nhi",
        b"Subject: =?utf-8?b?!!!notbase64?=\r\n\r\nhi",
        HEAD + b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
        HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n--b\r\n--b--',
        HEAD + b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\n@@@not base64@@@",
        HEAD + b'Content-Type: text/plain; charset=""\r\n\r\n\xff\xfe\xfd',
        HEAD + b"Content-Type: text/plain; charset=utf-16\r\n\r\n\xff",
        HEAD + b"Content-Type: text/html\r\n\r\n<html><body><div><blockquote>" * 50,
        HEAD + b"Content-Type: message/rfc822\r\n\r\nnot a message",
        HEAD + b"Content-Type: multipart/report; report-type=delivery-status; boundary=z\r\n\r\n"
        b"--z\r\nContent-Type: message/delivery-status\r\n\r\nnonsense\r\n--z--",
        HEAD + b"Content-Type: multipart/report; report-type=feedback-report; boundary=z\r\n\r\n"
        b"--z\r\nContent-Type: message/feedback-report\r\n\r\n\r\n--z--",
        b"From: a@b\r\nContent-Type: " + b"x" * 10_000 + b"\r\n\r\nhi",
        b"Subject: " + b"A" * 100_000 + b"\r\n\r\n",
        b"\r\n".join(b"X-H%d: v" % index for index in range(5_000)) + b"\r\n\r\nbody",
    ],
)
def test_malformed_input_gives_a_verdict(raw: bytes) -> None:
    assert_well_formed(classify(raw))


def test_iso_8859_2_body_is_decoded() -> None:
    raw = HEAD + b"Content-Type: text/plain; charset=iso-8859-2\r\n\r\nPozdrawiam \xb3adnie\r\n"
    verdict = classify(raw)
    assert verdict.kind == "reply"
    assert verdict.reply_text == "Pozdrawiam ładnie"


def test_windows_1252_declared_as_latin1_is_decoded() -> None:
    raw = HEAD + b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nWe\x92re in \x96 ok\r\n"
    assert classify(raw).reply_text == "We’re in – ok"


def test_huge_body_is_capped_and_fast() -> None:
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit " * 4 + b"\r\n"
    raw = HEAD + b"Content-Type: text/plain\r\n\r\nYes, call me.\r\n" + line * 40_000
    started = time.perf_counter()
    verdict = classify(raw)
    assert time.perf_counter() - started < 10
    assert verdict.kind == "reply"
    assert verdict.reply_text is not None
    assert len(verdict.reply_text) <= 200_000


def test_huge_html_is_fast() -> None:
    raw = HEAD + b"Content-Type: text/html\r\n\r\n" + b"<div><span>a b c</span></div>" * 100_000
    started = time.perf_counter()
    assert_well_formed(classify(raw))
    assert time.perf_counter() - started < 10


def test_random_bytes_never_raise() -> None:
    generator = random.Random(4)
    for _ in range(300):
        size = generator.randrange(0, 3_000)
        assert_well_formed(classify(bytes(generator.randrange(256) for _ in range(size))))


def test_mutated_fixtures_never_raise() -> None:
    """Flip, cut and duplicate bytes of a real-shaped bounce: parsing must not crash."""
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[3] / "fixtures" / "inbound"
    generator = random.Random(7)
    sources = [
        path.read_bytes() for path in sorted(fixtures.glob("*.rfc822")) if path.stat().st_size
    ]
    for _ in range(300):
        data = bytearray(generator.choice(sources))
        for _ in range(generator.randrange(1, 20)):
            if not data:
                break
            position = generator.randrange(len(data))
            operation = generator.randrange(3)
            if operation == 0:
                data[position] = generator.randrange(256)
            elif operation == 1:
                del data[position : position + generator.randrange(1, 200)]
            else:
                data[position:position] = data[position : position + generator.randrange(1, 200)]
        assert_well_formed(classify(bytes(data)))


_HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Auto-Submitted",
        "In-Reply-To",
        "References",
        "Return-Path",
        "Precedence",
        "X-Autoreply",
        "List-Id",
    ]
)
_HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "multipart/report; report-type=delivery-status; boundary=b",
            "text/html",
            "multipart/alternative; boundary=b",
            "message/rfc822",
            "base64",
            "quoted-printable",
            "auto-replied",
            "<>",
            "bulk",
            "=?utf-8?b?w6k=?=",
            "text/plain; charset=x-bogus",
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.lists(st.tuples(_HEADER_NAMES, _HEADER_VALUES), max_size=8),
    body=st.one_of(st.binary(max_size=2_000), st.text(max_size=2_000).map(str.encode)),
)
def test_fuzzed_messages_never_raise(headers: list[tuple[str, str]], body: bytes) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    raw = head.encode("utf-8", "surrogatepass") + b"\r\n" + body
    assert_well_formed(classify(raw))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4_000))
def test_fuzzed_bytes_never_raise(raw: bytes) -> None:
    assert_well_formed(classify(raw))

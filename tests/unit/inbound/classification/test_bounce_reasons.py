"""A failure's words and status code -> its reason, and the reason -> its effect."""

from __future__ import annotations

import pytest

from cadence.inbound.classification.bounce_reasons import (
    ADDRESS_IS_BAD,
    REASONS,
    REJECTS_SENDER,
    judge,
)

# (diagnostic text, DSN status code or None, delayed, expected reason)
CASES = [
    (
        "550 5.1.1 <ann@x.example>: Recipient address rejected: User unknown",
        "5.1.1",
        False,
        "user_unknown",
    ),
    ("550 Requested action not taken: mailbox unavailable", None, False, "user_unknown"),
    ("Sorry, no mailbox here by that name. (#5.1.1)", None, False, "user_unknown"),
    ("MSEXCH:IMS:ACME:HQ:MX01 0 (000C05A6) Unknown", None, False, "user_unknown"),
    (
        "Host or domain name not found. Name service error for name=x.example",
        "5.4.4",
        False,
        "host_unknown",
    ),
    ("smtp; 550 5.0.0", "5.1.2", False, "host_unknown"),
    ("552 5.2.2 Mailbox full", "5.2.2", False, "mailbox_full"),
    ("permission denied. Command output: Mail quota\n   exceeded.", None, False, "mailbox_full"),
    ("This account has been disabled or discontinued", None, False, "suspended"),
    (
        "552 5.3.4 Message size exceeds fixed maximum message size",
        "5.3.4",
        False,
        "message_too_big",
    ),
    (
        "550-5.7.26 Unauthenticated email from x.example is not accepted due to DMARC policy",
        "5.7.26",
        False,
        "authentication",
    ),
    (
        "550 5.7.23 rejected because of Sender Policy Framework violation",
        "5.7.23",
        False,
        "authentication",
    ),
    (
        "554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org",
        "5.7.1",
        False,
        "blocked",
    ),
    ("550 5.7.606 Access denied, banned sending IP [192.0.2.7]", "5.7.606", False, "blocked"),
    (
        "550-5.7.1 Our system has detected that this message is likely unsolicited mail",
        "5.7.1",
        False,
        "spam",
    ),
    (
        "421 4.7.0 [TSS04] Messages from 192.0.2.7 temporarily deferred due to unexpected volume",
        "4.7.0",
        True,
        "rate_limited",
    ),
    ("550 5.7.1 Message rejected due to local policy restrictions", "5.7.1", False, "policy"),
    ("550 5.7.1 Unable to relay for ann@x.example", "5.7.1", False, "no_relaying"),
    (
        "Your mail could not be delivered because they are not accepting mail from us@y.example",
        None,
        False,
        "rejected",
    ),
    ("554 No Resent-From field given", None, False, "content_error"),
    ('Command died with status 17: "/usr/sbin/amavis"', None, False, "mailer_error"),
    ("554 Too many hops 26 (25 max)", None, False, "system_error"),
    (
        "Your message was not delivered within 2 days. Host x.example is not responding.",
        None,
        False,
        "expired",
    ),
    (
        "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)",
        None,
        False,
        "network_error",
    ),
    ("451 4.7.1 Greylisting in action, please come back later", "4.7.1", True, "expired"),
    ("connect to mx.x.example[192.0.2.25]:25: Connection timed out", "4.4.1", True, "expired"),
    ("The following message could not be delivered.", None, False, "other"),
    (
        "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
        "5.4.1",
        False,
        "user_unknown",
    ),
    ("556 5.1.10 Recipient address has null MX", "5.1.10", False, "not_accept"),
    ("550 #5.1.0 Address rejected", "5.1.0", False, "user_unknown"),
    ("553 5.1.8 Domain of sender address does not exist", "5.1.8", False, "rejected"),
    ("554 5.6.0 Message contains invalid header", "5.6.0", False, "content_error"),
    ("554 5.6.1 Body type not supported", "5.6.1", False, "content_error"),
]


@pytest.mark.parametrize(("text", "code", "delayed", "reason"), CASES)
def test_reason(text: str, code: str | None, delayed: bool, reason: str) -> None:
    judged = judge(text, code=code, delayed=delayed)

    assert judged.reason == reason
    assert judged.reason in REASONS


@pytest.mark.parametrize(("text", "code", "delayed", "reason"), CASES)
def test_effect_follows_the_reason(text: str, code: str | None, delayed: bool, reason: str) -> None:
    judged = judge(text, code=code, delayed=delayed)
    temporary = delayed or (code or "").startswith("4")

    assert judged.bounce == ("hard" if reason in ADDRESS_IS_BAD and not temporary else "soft")
    assert judged.rejects_sender == (reason in REJECTS_SENDER)


@pytest.mark.parametrize(
    "text",
    [
        "450 4.1.1 <ann@x.example>: Recipient address rejected: User unknown",
        "Remote host said: 450 <ann@x.example>: mailbox unavailable",
    ],
)
def test_a_retried_failure_is_never_hard(text: str) -> None:
    judged = judge(text)

    assert (judged.reason, judged.bounce) == ("user_unknown", "soft")


def test_hostile_text_is_judged_quickly() -> None:
    import time

    hostile = "550 " + "user unknow " * 50_000 + "a@" * 50_000
    started = time.perf_counter()
    judge(hostile)
    assert time.perf_counter() - started < 1.0


def test_readme_table_lists_every_reason_with_its_effect() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[4] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Bounces: reasons and effects", 1)[1]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| (hard|soft) \| (yes|no) \|$", section, re.M)

    assert sorted(name for name, _, _ in rows) == sorted(REASONS)
    for name, bounce, rejects in rows:
        assert (bounce == "hard") == (name in ADDRESS_IS_BAD)
        assert (rejects == "yes") == (name in REJECTS_SENDER)

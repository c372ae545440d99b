"""The delivered email (contract.md, "Delivered email"): compose a message, serialise it to
bytes as a transport would, parse it back and check every header the contract names."""

import email
import os
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cadence.delivery.compose import (
    OutgoingEmail,
    ThreadParent,
    compose,
    new_message_id,
    quote_below,
    reply_subject,
)

SENT = datetime(2026, 1, 12, 13, 5, tzinfo=UTC)
UNSUBSCRIBE_URL = "https://acme.com/unsubscribe/Zm9vYmFy"
UNSUBSCRIBE_MAILTO = "mailto:unsubscribe+Zm9vYmFy@acme.com?subject=unsubscribe"
PARENT = ThreadParent(
    message_id="<cadence.41.aaaa@acme.com>",
    references=("<cadence.40.root@acme.com>",),
    subject="Initech and Acme",
    body="Hi Zoë,\n\nWorth 15 minutes next week?\n\nSam",
    sent_at=datetime(2026, 1, 9, 13, 5, tzinfo=UTC),
    sender_display="Sam Müller",
)


def outgoing(**overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "touch_id": 42,
        "message_id": "<cadence.42.0123456789abcdef@acme.com>",
        "sender_name": "Sam Müller",
        "sender_email": "sam@acme.com",
        "recipient_name": "Zoë Ångström",
        "recipient_email": "zoe@initech.com",
        "subject": "Initech and Acme",
        "body": "Hi Zoë,\n\nWorth 15 minutes next week?\n\nSam",
        "date": SENT,
        "unsubscribe_url": UNSUBSCRIBE_URL,
        "unsubscribe_mailto": UNSUBSCRIBE_MAILTO,
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def round_trip(message: EmailMessage) -> tuple[bytes, EmailMessage]:
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def raw_header(raw: bytes, name: bytes) -> bytes:
    """The header's raw value, unfolded (continuation lines joined)."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    match = re.search(rb"^" + name + rb":(.*?)\r\n(?![ \t])", head, re.M | re.S)
    assert match is not None, f"no {name!r} header"
    return re.sub(rb"\r\n[ \t]", b" ", match.group(1)).strip()


def plain_text(parsed: EmailMessage) -> str:
    part = parsed.get_body(("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


# --- the contract's headers -----------------------------------------------------------------


def test_contract_headers() -> None:
    raw, parsed = round_trip(compose(outgoing()))
    assert parsed["Message-ID"] == "<cadence.42.0123456789abcdef@acme.com>"
    assert parsedate_to_datetime(parsed["Date"]) == SENT
    assert parsed["From"].addresses[0].addr_spec == "sam@acme.com"
    assert parsed["From"].addresses[0].display_name == "Sam Müller"
    assert parsed["To"].addresses[0].addr_spec == "zoe@initech.com"
    assert parsed["To"].addresses[0].display_name == "Zoë Ångström"
    assert parsed["Subject"] == "Initech and Acme"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>, <{UNSUBSCRIBE_MAILTO}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["X-Cadence-Touch"] == "42"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert plain_text(parsed) == "Hi Zoë,\n\nWorth 15 minutes next week?\n\nSam\n"
    assert raw_header(raw, b"List-Unsubscribe-Post") == b"List-Unsubscribe=One-Click"


@pytest.mark.parametrize(
    "name",
    [
        "Message-ID",
        "Date",
        "From",
        "To",
        "Subject",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "X-Cadence-Touch",
        "MIME-Version",
    ],
)
def test_each_header_appears_once(name: str) -> None:
    _, parsed = round_trip(compose(outgoing()))
    assert len(parsed.get_all(name) or []) == 1


def test_a_new_thread_has_no_reply_headers() -> None:
    _, parsed = round_trip(compose(outgoing()))
    assert parsed["In-Reply-To"] is None
    assert parsed["References"] is None


def test_lines_use_crlf_and_stay_under_998_octets() -> None:
    raw, _ = round_trip(compose(outgoing(body="word " * 600)))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        (UNSUBSCRIBE_URL, b"https"),
        ("http://localhost:8000/unsubscribe/Zm9vYmFy", b"http"),
        ("https://unsubscribe.mail.acme-sales-engine.com/unsubscribe/" + "Ab9_-" * 60, b"https"),
    ],
    ids=["https", "http", "300-char URL"],
)
def test_list_unsubscribe_is_literal_urls(url: str, scheme: bytes) -> None:
    raw, parsed = round_trip(compose(outgoing(unsubscribe_url=url)))
    value = raw_header(raw, b"List-Unsubscribe")
    assert b"=?" not in value
    assert b"=?utf-8?" not in value.lower()
    assert b"<" + scheme + b"://" in value
    assert b"<mailto:" in value
    assert value.replace(b" ", b"") == f"<{url}>,<{UNSUBSCRIBE_MAILTO}>".encode()
    assert parsed["List-Unsubscribe"] == f"<{url}>, <{UNSUBSCRIBE_MAILTO}>"


@pytest.mark.parametrize(
    ("sender", "recipient", "subject"),
    [
        ("Sam Müller", "Zoë Ångström", "Grüße von Acme — quick question"),
        ("山田 太郎", "Łukasz Żółć", "日本語の件名"),
        ("Sam O'Neil", 'Evil, "Inc" <x@y.com>', "Re: ✓ done"),
        ("", "", "plain"),
    ],
)
def test_non_ascii_names_and_subject_round_trip(sender: str, recipient: str, subject: str) -> None:
    _, parsed = round_trip(
        compose(outgoing(sender_name=sender, recipient_name=recipient, subject=subject))
    )
    assert parsed["From"].addresses[0].display_name == sender
    assert parsed["From"].addresses[0].addr_spec == "sam@acme.com"
    assert parsed["To"].addresses[0].display_name == recipient
    assert len(parsed["To"].addresses) == 1
    assert parsed["To"].addresses[0].addr_spec == "zoe@initech.com"
    assert parsed["Subject"] == subject


def test_non_ascii_body_round_trips() -> None:
    body = "Grüße, Zoë — 日本語 ✓\n\n> not a quote\n.\nFrom the start of a line"
    _, parsed = round_trip(compose(outgoing(body=body)))
    assert plain_text(parsed) == body + "\n"


def test_date_in_another_zone_is_the_same_instant() -> None:
    berlin = datetime(2026, 7, 13, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    _, parsed = round_trip(compose(outgoing(date=berlin)))
    assert parsedate_to_datetime(parsed["Date"]) == berlin


@pytest.mark.parametrize(
    "field",
    ["recipient_name", "sender_name", "subject"],
)
def test_header_injection_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=r"CR or LF|linefeed or carriage return"):
        compose(outgoing(**{field: "Zoë\r\nBcc: victim@example.com"})).as_bytes()


# --- Message-ID ---------------------------------------------------------------------------


def test_new_message_id_is_unique_on_the_sender_domain() -> None:
    ids = {new_message_id(7, "acme.com") for _ in range(500)}
    assert len(ids) == 500
    for value in ids:
        assert re.fullmatch(r"<cadence\.7\.[0-9a-f]{16}@acme\.com>", value)


def test_a_forked_worker_never_repeats_its_parents_message_ids() -> None:
    """dramatiq forks its worker processes: a child drawing from the pool it inherited would
    make the same random parts as its parent."""
    new_message_id(1, "acme.com")  # the pool holds unused bytes when the process forks
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.write(writer, new_message_id(1, "acme.com").encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 200).decode()
    os.close(reader)

    assert from_child.startswith("<cadence.1.")
    assert new_message_id(1, "acme.com") != from_child


def test_new_message_id_round_trips_as_a_header() -> None:
    message_id = new_message_id(42, "mail.acme.com")
    _, parsed = round_trip(compose(outgoing(message_id=message_id)))
    assert parsed["Message-ID"] == message_id


# --- replies in the same thread ------------------------------------------------------------


def test_reply_headers() -> None:
    _, parsed = round_trip(compose(outgoing(parent=PARENT)))
    assert parsed["In-Reply-To"] == "<cadence.41.aaaa@acme.com>"
    assert parsed["References"] == "<cadence.40.root@acme.com> <cadence.41.aaaa@acme.com>"


def test_reply_to_a_first_email_references_only_it() -> None:
    parent = ThreadParent(
        message_id="<cadence.1.first@acme.com>",
        references=(),
        subject="s",
        body="b",
        sent_at=SENT,
        sender_display="Sam",
    )
    _, parsed = round_trip(compose(outgoing(parent=parent)))
    assert parsed["References"] == "<cadence.1.first@acme.com>"
    assert parsed["In-Reply-To"] == "<cadence.1.first@acme.com>"


def test_long_reference_chain_is_folded_not_encoded() -> None:
    refs = tuple(f"<cadence.{i}.{'a' * 16}@acme.com>" for i in range(30))
    parent = ThreadParent("<cadence.99.bbbb@acme.com>", refs, "s", "b", SENT, "Sam")
    raw, parsed = round_trip(compose(outgoing(parent=parent)))
    assert b"=?" not in raw_header(raw, b"References")
    assert parsed["References"].split() == [*refs, "<cadence.99.bbbb@acme.com>"]


def test_quote_below() -> None:
    text = quote_below("Following up on the below.", PARENT)
    assert text == (
        "Following up on the below.\n"
        "\n"
        "On Fri, 9 Jan 2026 at 13:05 UTC, Sam Müller wrote:\n"
        "> Hi Zoë,\n"
        ">\n"
        "> Worth 15 minutes next week?\n"
        ">\n"
        "> Sam\n"
    )


def test_quote_below_converts_sent_at_to_utc() -> None:
    parent = ThreadParent(
        message_id="<p@acme.com>",
        references=(),
        subject="s",
        body="b",
        sent_at=datetime(2026, 1, 9, 14, 5, tzinfo=ZoneInfo("Europe/Berlin")),
        sender_display="Sam",
    )
    assert "On Fri, 9 Jan 2026 at 13:05 UTC, Sam wrote:" in quote_below("x", parent)


def test_reply_quotes_the_parent_below_the_new_text() -> None:
    # delivery composes a reply's body with quote_below; the message carries it verbatim.
    body = quote_below("Hi Zoë, following up on the below.", PARENT)
    _, parsed = round_trip(compose(outgoing(parent=PARENT, body=body)))
    text = plain_text(parsed)
    lines = text.splitlines()
    assert lines[0] == "Hi Zoë, following up on the below."
    quoted = [line for line in lines if line.startswith(">")]
    assert quoted == ["> Hi Zoë,", ">", "> Worth 15 minutes next week?", ">", "> Sam"]
    assert lines.index("> Hi Zoë,") > lines.index("Hi Zoë, following up on the below.")
    assert "On Fri, 9 Jan 2026 at 13:05 UTC, Sam Müller wrote:" in lines


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Initech and Acme", "Re: Initech and Acme"),
        ("Re: Initech", "Re: Initech"),
        ("RE: Initech", "RE: Initech"),
        ("re:Initech", "re:Initech"),
        ("Regarding Initech", "Re: Regarding Initech"),
    ],
)
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected

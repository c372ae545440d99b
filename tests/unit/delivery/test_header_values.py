"""No field reaches a header except as data: every composed message, written as the
transports write it (``wire_bytes``) and as the library does (``as_bytes``), parses back
under ``email.policy.strict`` to exactly the expected headers, each value as given."""

import email
import re
from dataclasses import replace
from email.errors import NonPrintableDefect
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default, strict

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cadence.delivery.compose import OutgoingEmail, compose
from cadence.transports.headers import envelope_address
from cadence.transports.wire import wire_bytes
from tests.unit.authoring.test_rendering import CONTEXT, renderer_for, template

from .test_compose import PARENT
from .test_compose_speed_equivalence import BASE

HEADERS = [
    "Content-Transfer-Encoding",
    "Content-Type",
    "Date",
    "From",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Message-ID",
    "Subject",
    "To",
    "X-Cadence-Touch",
]
REPLY_HEADERS = sorted([*HEADERS, "In-Reply-To", "References"])
INJECTIONS = [
    "=?utf-8?q?Evil=0D=0ABcc:_evil@x.example?=",
    "Evil =?utf-8?q?=0D=0AReply-To:_evil@x.example?=",
    "=?utf-8?b?DQpCY2M6IGV2aWxAeC5leGFtcGxl?=",
    "=?UTF-8?Q?a?= =?UTF-8?Q?=0A?=Bcc: evil@x.example",
    '"=?utf-8?q?=0D=0ABcc:_evil@x.example?="',
    "Zoë =?iso-8859-1?q?=0D=0ABcc:_x@y.example?=",
    "a\u2028Bcc: evil@x.example",
    "a\u2029Bcc: evil@x.example",
    "a\x85Bcc: evil@x.example",
    "a\x0bBcc: evil@x.example",
    "a\x0cBcc: evil@x.example",
    "a\x00Bcc: evil@x.example",
    "Bcc: evil@x.example",
    "Evil <evil@x.example>, Other",
    '"; Bcc: evil@x.example',
    '\\\\"<>@,;:',
]
BAD_ADDRESSES = (
    "jordan lee@initech.com",
    '"a\\"b"@initech.com',
    "jordan@initech.com>, evil@x.example",
    "jordan@[127.0.0.1]",
    "jordan",
    "jördan@initech.com",
    "jordan@initech.com\x00",
    "jordan@-initech.com",
)
#: Links a header cannot hold as they are: percent-encoded, never parsed or encoded.
ODD_LINKS = (
    "https://acme.com/désabonner/Zm9v",
    "https://acme.com/u/a b",
    "https://a.example/<x>",
    "https://acme.com/u/=?utf-8?q?x?=",
)
_PIECES = st.sampled_from(
    [
        *INJECTIONS,
        *' \t\x00\x85\u2028\u2029\x0b\x0c\xa0\u3000\u200d=?"\\<>@,;:()',
        "é",
        "日本",
        "😀",
        "x" * 120,
        "Ünïcödé" * 12,
    ]
)
#: Any text but CR and LF (refused, see below), and runs of the pieces that decide encoding.
DATA = st.one_of(
    st.text(st.characters(codec="utf-8", blacklist_characters="\r\n"), max_size=80),
    st.lists(_PIECES, max_size=6).map("".join),
)


def parsed_back(message: EmailMessage) -> list[EmailMessage]:
    """The message as both writers write it, each parsed with the strict and default policy."""
    out = []
    for raw in (wire_bytes(message), message.as_bytes()):
        assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b"")
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert head.isascii()
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        for policy in (strict, default):
            parsed = email.message_from_bytes(raw, policy=policy)
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
    return out


def assert_reads_as_given(fields: OutgoingEmail) -> None:
    message = compose(fields)
    expected = REPLY_HEADERS if fields.parent else HEADERS
    for parsed in parsed_back(message):
        assert sorted(parsed.keys()) == expected
        assert parsed.defects == []
        for name in expected:
            # A control character given in a name is reported as such, and kept as data.
            structural = [d for d in parsed[name].defects if type(d) is not NonPrintableDefect]
            assert structural == [], name
        assert str(parsed["Subject"]) == fields.subject
        for header, display, addr in (
            ("From", fields.sender_name, fields.sender_email),
            ("To", fields.recipient_name, fields.recipient_email),
        ):
            (address,) = parsed[header].addresses
            assert address.addr_spec == addr
            # Python's parser folds whitespace runs inside a name; the characters stay.
            assert address.display_name.split() == display.split()
            assert rfc2047_display_name(parsed, header) == display
        assert parsed["Message-ID"] == fields.message_id
        assert parsed["X-Cadence-Touch"] == str(fields.touch_id)
    assert envelope_address(message, "To") == fields.recipient_email
    assert envelope_address(message, "From") == fields.sender_email


def rfc2047_display_name(parsed: EmailMessage, header: str) -> str:
    """The display name as a mail client that follows RFC 2047 reads it, from the raw value:
    encoded words decoded and joined, a quoted string unquoted."""
    raw = next(str(v) for k, v in parsed.raw_items() if k == header)  # the text as sent
    value = re.sub(r"\r?\n(?=[ \t])", "", raw).strip()
    phrase = value[: value.rfind("<")].strip() if value.endswith(">") else ""
    if phrase.startswith('"'):
        return re.sub(r"\\(.)", r"\1", phrase[1:-1])
    if phrase.startswith("=?"):
        return str(make_header(decode_header(phrase)))
    return phrase


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("field", ["recipient_name", "sender_name", "subject"])
def test_an_encoded_word_or_odd_line_break_is_data(field: str, value: str) -> None:
    assert_reads_as_given(replace(BASE, **{field: value}))
    assert_reads_as_given(replace(BASE, parent=PARENT, **{field: value}))


def test_the_probe_writes_no_bcc() -> None:
    probe = "=?utf-8?q?Evil=0D=0ABcc:_evil@x.example?="
    message = compose(replace(BASE, recipient_name=probe, subject=probe))
    for raw in (wire_bytes(message), message.as_bytes()):
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert not re.search(rb"^(bcc|reply-to|cc):", head, re.I | re.M)
        assert b"=?utf-8?q?" not in head  # the lookalike itself is encoded, not passed on
        parsed = email.message_from_bytes(raw, policy=strict)
        assert parsed["Bcc"] is None
        assert parsed["To"].addresses[0].display_name == probe


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender=DATA, recipient=DATA, subject=DATA, reply=st.booleans())
@example(sender="", recipient="", subject="", reply=False)
@example(sender=" ", recipient="\t", subject=" x ", reply=True)
def test_any_name_and_subject_reads_back_as_given(
    sender: str, recipient: str, subject: str, reply: bool
) -> None:
    fields = replace(
        BASE,
        sender_name=sender,
        recipient_name=recipient,
        subject=subject,
        parent=PARENT if reply else None,
    )
    assert_reads_as_given(fields)


@given(
    field=st.sampled_from(["sender_name", "recipient_name", "subject", "message_id"]),
    before=DATA,
    brk=st.sampled_from(["\r", "\n", "\r\n"]),
    after=DATA,
)
def test_a_raw_line_break_is_refused(field: str, before: str, brk: str, after: str) -> None:
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        compose(replace(BASE, **{field: before + brk + after}))


@pytest.mark.parametrize("subject", ["x" * 5000, "Grüße " * 900, "a" * 996, "😀" * 400])
def test_very_long_subjects_are_encoded_words_within_the_line_limits(subject: str) -> None:
    assert_reads_as_given(replace(BASE, subject=subject))
    raw = compose(replace(BASE, subject=subject)).as_bytes()
    for word in re.findall(rb"=\?[^?]+\?b\?[^?]*\?=", raw):
        assert len(word) <= 75


@pytest.mark.parametrize("name", ["x" * 2000, "Ünïcödé " * 200])
def test_a_name_too_long_for_a_header_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="too long for a header"):
        compose(replace(BASE, recipient_name=name))


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_an_address_a_header_cannot_carry_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match=r"address|IDNA|linefeed"):
        compose(replace(BASE, recipient_email=address))


def test_an_internationalised_domain_is_written_in_ascii() -> None:
    message = compose(replace(BASE, recipient_email="zoe@bücher.example"))
    (parsed, *_) = parsed_back(message)
    assert parsed["To"].addresses[0].addr_spec == "zoe@xn--bcher-kva.example"


@pytest.mark.parametrize("value", ["<a@b> <c@d>", "a@acme.com", "<a\x00@b>", "<é@acme.com>"])
def test_a_message_id_must_be_one_plain_id(value: str) -> None:
    with pytest.raises(ValueError, match="not a Message-ID"):
        compose(replace(BASE, message_id=value))


def test_a_parent_reference_is_checked_too() -> None:
    parent = replace(PARENT, references=("<ok@acme.com>", "<x@y>\r\nBcc: evil@x.example"))
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        compose(replace(BASE, parent=parent))


@pytest.mark.parametrize("url", ODD_LINKS)
def test_unsubscribe_links_are_percent_encoded_not_parsed(url: str) -> None:
    message = compose(replace(BASE, unsubscribe_url=url))
    for parsed in parsed_back(message):
        assert sorted(parsed.keys()) == HEADERS
        first = str(parsed["List-Unsubscribe"]).split(">, <")[0].lstrip("<")
        assert " " not in first and "<" not in first[1:] and first.isascii()


@settings(max_examples=100, deadline=None)
@given(custom=DATA, company=DATA)
def test_a_subject_rendered_from_custom_fields_is_data(custom: str, company: str) -> None:
    """A template's subject built from a prospect's fields, as the claim path builds it."""
    t = template("Hi", subject="{{ custom.x }} for {{ company }}")
    context = {**CONTEXT, "custom": {"x": custom}, "company": company}
    subject = renderer_for(t).render(t.name, context).subject
    assert subject is not None
    assert_reads_as_given(replace(BASE, subject=subject, recipient_name=custom))

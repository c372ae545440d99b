"""The provider adapters' pure parts: signatures, freshness, Basic auth, form and JSON
parsing, SNS verification against a self-signed certificate. No store, no HTTP."""

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cadence.core.domain import EventKind
from cadence.inbound.classification import classify_message
from cadence.inbound.providers import generic, mailgun, postmark, sendgrid, ses, sns
from cadence.inbound.providers.base import Forbidden, Malformed, Unauthorized, instant
from cadence.inbound.providers.formdata import parse_form
from cadence.inbound.providers.mime import header_block, rebuild_message
from cadence.inbound.providers.signing import (
    cadence_signature,
    check_basic_auth,
    check_cadence_signature,
    check_fresh,
    check_hmac,
    hmac_sha256_hex,
)
from cadence.inbound.providers.sns_stub import SnsStub

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
TS = str(int(NOW.timestamp()))


def fixture(name: str, **values: str) -> str:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def multipart(fields: dict[str, bytes], boundary: str = "xYzZY") -> tuple[str, bytes]:
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields.items()
    )
    return f"multipart/form-data; boundary={boundary}", body + f"--{boundary}--\r\n".encode()


# --- signing -------------------------------------------------------------------------------


def test_hmac_matches_a_known_vector() -> None:
    # RFC 4231 test case 2.
    assert hmac_sha256_hex("Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


@pytest.mark.parametrize(
    ("timestamp", "ok"),
    [
        (TS, True),
        (str(int(NOW.timestamp()) - 299), True),
        (str(int(NOW.timestamp()) - 301), False),  # stale
        (str(int(NOW.timestamp()) + 301), False),  # too far in the future
        ("nan", False),
        ("inf", False),
        ("yesterday", False),
        ("", False),
    ],
)
def test_freshness_window_both_ways(timestamp: str, ok: bool) -> None:
    if ok:
        check_fresh(timestamp, now=NOW, max_age_seconds=300)
    else:
        with pytest.raises(Forbidden):
            check_fresh(timestamp, now=NOW, max_age_seconds=300)


def test_hmac_check_refuses_wrong_missing_and_unconfigured() -> None:
    good = hmac_sha256_hex("k", b"msg")
    check_hmac("k", b"msg", good.upper())  # hex case does not matter
    for key, signature in [("k", "0" * 64), ("k", ""), ("other", good), (None, good), ("", good)]:
        with pytest.raises(Forbidden):
            check_hmac(key, b"msg", signature)


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (basic("user:pa:ss"), None),  # a colon in the password is fine
        (basic("user:wrong"), Unauthorized),
        (basic("user"), Unauthorized),
        ("Bearer abc", Unauthorized),
        ("Basic !!!", Unauthorized),
        ("Basic " + base64.b64encode(b"\xff\xfe").decode(), Unauthorized),
        (None, Unauthorized),
    ],
)
def test_basic_auth(header: str | None, error: type[Exception] | None) -> None:
    if error is None:
        check_basic_auth(header, "user:pa:ss")
    else:
        with pytest.raises(error):
            check_basic_auth(header, "user:pa:ss")


def test_basic_auth_unconfigured_is_forbidden() -> None:
    with pytest.raises(Forbidden):
        check_basic_auth(basic("user:pass"), None)


def test_cadence_signature_round_trip_and_tampering() -> None:
    body = b"From: a@x.example\r\n\r\nhi\r\n"
    headers = cadence_signature("s3cret", body, int(NOW.timestamp()))

    def check(
        body: bytes = body,
        signature: str | None = headers["X-Cadence-Signature"],
        timestamp: str | None = headers["X-Cadence-Timestamp"],
        secret: str | None = "s3cret",
        now: datetime = NOW,
    ) -> str:
        return check_cadence_signature(
            secret,
            body=body,
            signature=signature,
            timestamp=timestamp,
            now=now,
            max_age_seconds=300,
        )

    assert check() == headers["X-Cadence-Signature"].removeprefix("sha256=")
    with pytest.raises(Forbidden):
        check(body=body + b"x")
    with pytest.raises(Forbidden):  # the timestamp is signed too
        check(timestamp=str(int(NOW.timestamp()) + 1))
    with pytest.raises(Forbidden):
        check(now=NOW + timedelta(minutes=6))
    with pytest.raises(Forbidden):
        check(secret=None)
    with pytest.raises(Unauthorized):
        check(signature=None)
    with pytest.raises(Unauthorized):
        check(signature=headers["X-Cadence-Signature"].replace("sha256=", "sha1="))


# --- forms and MIME ------------------------------------------------------------------------


def test_multipart_fields_keep_their_exact_bytes() -> None:
    latin = "Grüße aus Köln\r\n".encode("latin-1")
    content_type, body = multipart({"email": latin, "to": "ä@x".encode()})
    fields = parse_form(content_type, body)
    assert fields == {"email": latin, "to": "ä@x".encode()}


def test_urlencoded_fields_decode_percent_escapes_to_bytes() -> None:
    fields = parse_form(
        "application/x-www-form-urlencoded", b"body-mime=Subject%3A+hi%0D%0A%E9&a=1&a=2"
    )
    assert fields == {"body-mime": b"Subject: hi\r\n\xe9", "a": b"1"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{}"),
        (None, b"a=1"),
        ("multipart/form-data", b"--x\r\n"),  # no boundary
        ("multipart/form-data; boundary=xYz", b"this is not multipart at all"),
    ],
)
def test_bad_forms_are_malformed(content_type: str | None, body: bytes) -> None:
    with pytest.raises(Malformed):
        parse_form(content_type, body)


def test_rebuilt_message_is_deterministic_and_drops_the_original_body_headers() -> None:
    headers = header_block(
        "From: Ann <ann@acme.example>\nSubject: Re: hi\n folded\nContent-Type: text/html\n"
    )
    one = rebuild_message(headers, text="plain é", html="<p>html</p>", defaults=[("To", "b@x")])
    two = rebuild_message(headers, text="plain é", html="<p>html</p>", defaults=[("To", "b@x")])
    assert one == two
    assert b"Subject: Re: hi folded\r\n" in one
    assert b"Content-Type: text/html\r\n" not in one.split(b"\r\n\r\n")[0]
    assert b"To: b@x" in one
    only = rebuild_message([("To", "a@x")], text="t", html=None, defaults=[("To", "b@x")])
    assert b"To: b@x" not in only  # a default never overrides the provider's header


# --- Mailgun -------------------------------------------------------------------------------


def signed_mailgun(name: str, key: str = "mg-key", token: str = "t" * 50, **values: str) -> Any:
    signature = hmac_sha256_hex(key, (TS + token).encode())
    return json.loads(fixture(name, timestamp=TS, token=token, signature=signature, **values))


def test_mailgun_event_signature_verifies_and_refuses_others() -> None:
    payload = signed_mailgun(
        "mailgun_failed_permanent.json", recipient="bo@globex.example", message_id="m@x"
    )
    signature = mailgun.event_signature(payload)
    signature.verify("mg-key", now=NOW, max_age_seconds=300)
    with pytest.raises(Forbidden):
        signature.verify("another-key", now=NOW, max_age_seconds=300)
    with pytest.raises(Forbidden):
        signature.verify("mg-key", now=NOW + timedelta(hours=1), max_age_seconds=300)
    with pytest.raises(Forbidden):
        mailgun.event_signature({"event-data": {}})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("mailgun_failed_permanent.json", EventKind.BOUNCE),
        ("mailgun_failed_temporary.json", EventKind.SOFT_BOUNCE),
        ("mailgun_complained.json", EventKind.COMPLAINT),
        ("mailgun_delivered.json", EventKind.UNKNOWN),
    ],
)
def test_mailgun_events_map_to_kinds(name: str, kind: EventKind) -> None:
    payload = signed_mailgun(name, recipient="Bo@Globex.example", message_id="abc@mg.example")
    event = mailgun.parse_event(payload, now=NOW)
    assert (event.kind, event.recipient, event.message_id) == (
        kind,
        "bo@globex.example",
        "<abc@mg.example>",
    )
    assert event.event_id == payload["event-data"]["id"]


def test_mailgun_route_rebuilds_a_classifiable_reply() -> None:
    fields = {
        k: v.encode()
        for k, v in json.loads(
            fixture(
                "mailgun_route_parsed.json",
                sender="ann@acme.example",
                timestamp=TS,
                token="t",
                signature="s",
            )
        ).items()
    }
    raw = mailgun.route_message(fields)
    assert b"Message-Id: <CAF=mg.route.1@mail.gmail.com>" in raw
    verdict = classify_message(raw, received_at=NOW)
    assert verdict.kind == "reply"
    assert verdict.reply_text is not None and "Thursday" in verdict.reply_text
    assert mailgun.route_message({"body-mime": b"From: x\r\n\r\nbody"}) == b"From: x\r\n\r\nbody"
    with pytest.raises(Malformed):
        mailgun.route_message({"timestamp": b"1", "token": b"t"})


# --- SendGrid ------------------------------------------------------------------------------


def test_sendgrid_parsed_mode_decodes_each_field_in_its_charset() -> None:
    values = json.loads(fixture("sendgrid_parsed.json", sender="bo@globex.example"))
    fields = {
        k: v.encode("latin-1" if k in ("text", "html") else "utf-8") for k, v in values.items()
    }
    raw = sendgrid.parse_message(fields)
    verdict = classify_message(raw, received_at=NOW)
    assert verdict.kind == "reply"
    assert verdict.reply_text is not None and "Donnerstag" in verdict.reply_text
    assert "Grüße".encode() in raw  # Latin-1 text field, now UTF-8
    assert b"Message-ID: <AM0PR04MB.sg-parsed-1@globex.example>" in raw
    assert sendgrid.parse_message({"email": b"raw bytes \xe9"}) == b"raw bytes \xe9"
    with pytest.raises(Malformed):
        sendgrid.parse_message({"spam_score": b"0"})


def test_sendgrid_events_blocked_is_soft_and_delivered_is_kept_only() -> None:
    payload = json.loads(
        fixture(
            "sendgrid_events.json",
            hard="bo@globex.example",
            soft="cy@initech.example",
            message_id="<cadence.2.x@brightwave.example>",
        )
    )
    events = sendgrid.parse_events(payload, now=NOW)
    assert [e.kind for e in events] == [EventKind.BOUNCE, EventKind.SOFT_BOUNCE, EventKind.UNKNOWN]
    assert events[0].message_id == "<cadence.2.x@brightwave.example>"
    assert events[0].raw is not None and json.loads(events[0].raw) == payload[0]
    with pytest.raises(Malformed):
        sendgrid.parse_events({"event": "bounce"}, now=NOW)
    with pytest.raises(Malformed):
        sendgrid.parse_events(["bounce"], now=NOW)


# --- SNS and SES ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", True),
        ("https://sns.us-east-1.amazonaws.com:443/x.pem", True),
        ("http://sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com.evil.example/x.pem", False),
        ("https://evil.example/sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com@evil.example/x.pem", False),
        ("https://evil.example@sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com:8443/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com/x.pem.txt", False),
        ("https://s3.amazonaws.com/x.pem", False),
        ("https://sns.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com:99999/x.pem", False),
        ("", False),
    ],
)
def test_signing_cert_url_must_be_https_on_an_sns_host(url: str, ok: bool) -> None:
    if ok:
        sns.check_aws_url(url, pem=True)
    else:
        with pytest.raises(Forbidden):
            sns.check_aws_url(url, pem=True)


def test_string_to_sign_follows_the_aws_field_order() -> None:
    notification = {
        "Type": "Notification",
        "MessageId": "m1",
        "TopicArn": "arn:t",
        "Message": "hello\nworld",
        "Timestamp": "2026-11-23T05:00:00.000Z",
        "UnsubscribeURL": "ignored",
    }
    assert sns.string_to_sign(notification) == (
        b"Message\nhello\nworld\nMessageId\nm1\nTimestamp\n2026-11-23T05:00:00.000Z\n"
        b"TopicArn\narn:t\nType\nNotification\n"
    )
    assert b"Subject\nHi\n" in sns.string_to_sign({**notification, "Subject": "Hi"})
    confirmation = {
        **notification,
        "Type": "SubscriptionConfirmation",
        "Token": "tk",
        "SubscribeURL": "https://s",
    }
    assert sns.string_to_sign(confirmation).startswith(
        b"Message\nhello\nworld\nMessageId\nm1\nSubscribeURL\nhttps://s\nTimestamp\n"
    )
    with pytest.raises(Malformed):
        sns.string_to_sign({**notification, "Type": "Other"})
    with pytest.raises(Malformed):
        sns.string_to_sign({**confirmation, "Token": None})


@pytest.fixture(scope="module")
def stub() -> SnsStub:
    return SnsStub(now=NOW)


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_signatures_verify_for_both_versions_and_certs_are_cached(
    stub: SnsStub, version: str
) -> None:
    client = stub.client()
    topics = frozenset({stub.topic})
    for subject in (None, "Amazon SES Email Receipt Notification"):
        envelope = stub.envelope({"a": 1}, at=NOW, version=version, subject=subject)
        sns.verify(envelope, client=client, topics=topics, now=NOW)
    assert stub.fetched.count(stub.cert_url) >= 1
    fetched = len(stub.fetched)
    sns.verify(
        stub.envelope({"b": 2}, at=NOW, version=version), client=client, topics=topics, now=NOW
    )
    assert len(stub.fetched) == fetched  # served from the cache


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"tamper": {"Message": '{"a": 2}'}}, Forbidden),
        ({"tamper": {"Subject": "added"}}, Forbidden),
        ({"tamper": {"SignatureVersion": "2"}}, Forbidden),  # SHA1 signature, SHA256 claimed
        ({"tamper": {"SignatureVersion": "3"}}, Forbidden),
        ({"tamper": {"Signature": "not base64!"}}, Forbidden),
        ({"TopicArn": "arn:aws:sns:us-east-1:999999999999:other"}, Forbidden),
        (
            {
                "tamper": {
                    "SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.example/a.pem"
                }
            },
            Forbidden,
        ),
        (
            {"tamper": {"SigningCertURL": "https://sns.us-east-1.amazonaws.com/unknown.pem"}},
            sns.Unavailable,
        ),
        ({"at": NOW - timedelta(hours=25)}, Forbidden),
        ({"at": NOW + timedelta(minutes=10)}, Forbidden),
        ({"tamper": {"Timestamp": "yesterday"}}, Malformed),
        ({"tamper": {"Type": "Unknown"}}, Malformed),
    ],
)
def test_sns_forgeries_are_refused(stub: SnsStub, change: dict[str, Any], error: type) -> None:
    at = change.pop("at", NOW)
    envelope = stub.envelope({"a": 1}, at=at, **change)
    with pytest.raises(error):
        sns.verify(envelope, client=stub.client(), topics=frozenset({stub.topic}), now=NOW)


def test_a_certificate_signed_by_someone_else_does_not_verify(stub: SnsStub) -> None:
    other = SnsStub(now=NOW)
    envelope = other.envelope({"a": 1}, at=NOW, tamper={"SigningCertURL": stub.cert_url})
    with pytest.raises(Forbidden):
        sns.verify(
            envelope, client=stub.client(), topics=frozenset({stub.topic, other.topic}), now=NOW
        )


def test_an_expired_certificate_is_refused(stub: SnsStub) -> None:
    later = NOW + timedelta(days=400)
    envelope = stub.envelope({"a": 1}, at=later)
    with pytest.raises(Forbidden, match="out of date"):
        sns.verify(envelope, client=stub.client(), topics=frozenset({stub.topic}), now=later)


def ses_envelope(name: str, **values: str) -> dict[str, Any]:
    return {"MessageId": "sns-1", "Message": fixture(name, **values)}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ses_bounce_permanent.json", EventKind.BOUNCE),
        ("ses_bounce_transient.json", EventKind.SOFT_BOUNCE),
        ("ses_complaint.json", EventKind.COMPLAINT),
        ("ses_delivery.json", EventKind.UNKNOWN),
    ],
)
def test_ses_notifications_map_to_kinds(name: str, kind: EventKind) -> None:
    events = ses.notification(
        ses_envelope(name, recipient="Bo@Globex.example", message_id="<ours@brightwave.example>"),
        now=NOW,
    )
    assert isinstance(events, list) and len(events) == 1
    assert (events[0].kind, events[0].recipient, events[0].message_id) == (
        kind,
        "bo@globex.example",
        "<ours@brightwave.example>",
    )


def test_ses_not_spam_feedback_and_empty_recipient_lists_are_kept_only() -> None:
    message = json.loads(fixture("ses_complaint.json", recipient="a@x.example", message_id="m"))
    message["complaint"]["complaintFeedbackType"] = "not-spam"
    events = ses.notification({"MessageId": "1", "Message": json.dumps(message)}, now=NOW)
    assert isinstance(events, list) and [e.kind for e in events] == [EventKind.UNKNOWN]
    message["complaint"]["complainedRecipients"] = []
    events = ses.notification({"MessageId": "2", "Message": json.dumps(message)}, now=NOW)
    assert isinstance(events, list) and len(events) == 1  # still stored


def test_ses_received_content_is_decoded() -> None:
    mime = b"From: cy@initech.example\r\nSubject: Re: hi\r\n\r\nYes \xe9\r\n"
    content = base64.b64encode(mime).decode()
    raw = ses.notification(
        ses_envelope("ses_received.json", sender="cy@initech.example", topic="t", content=content),
        now=NOW,
    )
    assert raw == mime
    plain = json.loads(
        fixture("ses_received.json", sender="c@x", topic="t", content=r"From: c@x\r\n\r\nhi")
    )
    plain["receipt"]["action"]["encoding"] = "UTF8"
    assert ses.notification({"Message": json.dumps(plain)}, now=NOW) == b"From: c@x\r\n\r\nhi"
    with pytest.raises(Malformed):
        ses.notification({"Message": "not json"}, now=NOW)


# --- Postmark ------------------------------------------------------------------------------


def test_postmark_inbound_is_rebuilt_or_taken_raw() -> None:
    payload = json.loads(fixture("postmark_inbound.json", sender="cy@initech.example"))
    assert postmark.is_inbound(payload)
    raw = postmark.parse_message(payload)
    assert b"Message-ID: <DE1F2A8B-postmark-inbound-1@initech.example>" in raw
    assert b"postmarkapp" not in raw  # the real Message-ID wins over the default
    assert classify_message(raw, received_at=NOW).kind == "reply"
    original = b"From: cy@initech.example\r\nSubject: x\r\n\r\nbody\r\n"
    assert postmark.parse_message({"RawEmail": original.decode()}) == original
    assert postmark.parse_message({"RawEmail": base64.b64encode(original).decode()}) == original
    with pytest.raises(Malformed):
        postmark.parse_message({"Subject": "only a subject"})


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        ({"RecordType": "Bounce", "Type": "HardBounce"}, EventKind.BOUNCE),
        ({"RecordType": "Bounce", "Type": "BadEmailAddress"}, EventKind.BOUNCE),
        ({"RecordType": "Bounce", "Type": "SoftBounce"}, EventKind.SOFT_BOUNCE),
        ({"RecordType": "Bounce", "Type": "Transient"}, EventKind.SOFT_BOUNCE),
        ({"RecordType": "Bounce", "Type": "DnsError"}, EventKind.SOFT_BOUNCE),
        ({"RecordType": "Bounce", "Type": "AutoResponder"}, EventKind.UNKNOWN),
        ({"RecordType": "Bounce", "Type": "Unsubscribe"}, EventKind.UNSUBSCRIBE),
        ({"RecordType": "SpamComplaint", "Type": "SpamComplaint"}, EventKind.COMPLAINT),
        ({"RecordType": "Delivery"}, EventKind.UNKNOWN),
        ({"RecordType": "Open"}, EventKind.UNKNOWN),
        (
            {
                "RecordType": "SubscriptionChange",
                "SuppressSending": True,
                "SuppressionReason": "ManualSuppression",
            },
            EventKind.UNSUBSCRIBE,
        ),
        ({"RecordType": "SubscriptionChange", "SuppressSending": False}, EventKind.UNKNOWN),
    ],
)
def test_postmark_record_types(record: dict[str, Any], kind: EventKind) -> None:
    event = postmark.parse_event({**record, "ID": 7, "Email": "a@x.example"}, now=NOW)
    assert (event.kind, event.recipient) == (kind, "a@x.example")
    assert not postmark.is_inbound(record)


def test_postmark_fixture_times_are_read() -> None:
    payload = json.loads(fixture("postmark_bounce_hard.json", recipient="bo@globex.example"))
    event = postmark.parse_event(payload, now=NOW)
    assert event.occurred_at == datetime(2026, 11, 23, 5, 1, 54, 907025, tzinfo=UTC)
    assert event.event_id == "Bounce:4323372036854775807"


# --- generic and small helpers ------------------------------------------------------------


def test_generic_meeting_event() -> None:
    event = generic.parse_event(
        json.loads(fixture("generic_meeting.json", recipient="Ann@Acme.example")), now=NOW
    )
    assert (event.kind, event.recipient, event.event_id) == (
        EventKind.MEETING,
        "ann@acme.example",
        "hubspot-meeting-81723",
    )
    assert event.occurred_at == datetime(2026, 11, 23, 4, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "wedding", "email": "a@x.example", "id": "1"},
        {"kind": "reply", "email": "not an address", "id": "1"},
        {"kind": "reply", "email": "a@x.example"},
        {"kind": "reply", "email": "a@x.example", "id": "x" * 201},
        {"kind": "reply", "email": "a@x.example", "id": "1", "at": "2026-11-23T05:00:00"},
        {"kind": "reply", "email": "a@x.example", "id": "1", "at": "tomorrow"},
        {"kind": "reply", "email": "a@x.example", "id": "1", "at": "2027-01-01T00:00:00Z"},
    ],
)
def test_generic_rejects_bad_fields(payload: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        generic.parse_event(payload, now=NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW.timestamp() - 60, NOW - timedelta(seconds=60)),
        ("2026-11-23T04:59:00Z", NOW - timedelta(seconds=60)),
        ("2026-11-23T05:59:00+01:00", NOW - timedelta(seconds=60)),
        ("2026-11-23T04:59:00", NOW),  # naive: not trusted
        (0, NOW),  # 1970: a broken clock
        ("garbage", NOW),
        (None, NOW),
        (True, NOW),
        (1e300, NOW),
    ],
)
def test_provider_times_are_used_only_when_plausible(value: Any, expected: datetime) -> None:
    assert instant(value, NOW) == expected

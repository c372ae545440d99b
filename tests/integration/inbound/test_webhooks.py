"""Provider webhooks end to end through the HTTP app on SQLite and PostgreSQL.

Happy paths show each provider's events reach the prospect's enrollments (a reply halts,
a hard bounce or complaint suppresses, a soft bounce does not stop). Hostile requests
(unsigned, wrongly signed, stale, replayed, wrong topic, forged certificate URL,
malformed, oversize) are refused and leave every table exactly as it was.
"""

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from cadence.api.app import create_app
from cadence.core.clock import SimulatedClock
from cadence.inbound.providers.signing import cadence_signature, hmac_sha256_hex
from cadence.inbound.providers.sns_stub import SnsStub
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import AuditEntry, Enrollment, Event, Prospect, Suppression, WebhookNonce
from tests.integration.conftest import START
from tests.integration.engine.test_engine import _setup
from tests.integration.inbound.test_processing import _sent_first_touches

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webhooks"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SECRET = "cadence-inbound-secret"
SENDGRID_AUTH = ("sendgrid", "parse-pass")
POSTMARK_AUTH = ("postmark", "hook-pass")
NOW_TS = int(START.timestamp())
ANN, BO, CY = "ann@acme.example", "bo@globex.example", "cy@initech.example"


@dataclass
class Hooks:
    ctx: AppContext
    client: TestClient
    sns: SnsStub
    tokens: Iterator[int]

    def post(self, provider: str, **kwargs: Any) -> Any:
        return self.client.post(f"/api/v1/inbound/{provider}", **kwargs)

    def mailgun_event(
        self,
        name: str,
        *,
        token: str | None = None,
        ts: int = NOW_TS,
        key: str = MAILGUN_KEY,
        **values: str,
    ) -> Any:
        token = token or f"token{next(self.tokens):045d}"
        signature = hmac_sha256_hex(key, f"{ts}{token}".encode())
        body = fixture(name, timestamp=str(ts), token=token, signature=signature, **values)
        return self.post("mailgun", content=body, headers={"Content-Type": "application/json"})

    def signed(self, provider: str, body: bytes, *, ts: int = NOW_TS, secret: str = SECRET) -> Any:
        headers = cadence_signature(secret, body, ts)
        return self.post(provider, content=body, headers=headers)

    def ses(self, envelope: dict[str, Any]) -> Any:
        # SNS posts JSON as text/plain.
        return self.post(
            "ses",
            content=json.dumps(envelope),
            headers={"Content-Type": "text/plain; charset=UTF-8"},
        )

    def ses_notification(self, name: str, **values: str) -> Any:
        message = fixture(name, **values)
        return self.ses(self.sns.envelope(message, at=START))


def fixture(name: str, **values: str) -> str:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def multipart(
    fields: dict[str, bytes], boundary: str = "----cadenceBoundary7MA4YWxk"
) -> tuple[bytes, dict[str, str]]:
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value
            + b"\r\n"
            for name, value in fields.items()
        )
        + f"--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def hooks(make_context: Callable[..., AppContext], tmp_path: Path) -> Iterator[Hooks]:
    ctx = make_context(clock=SimulatedClock(START))
    _setup(ctx, tmp_path)
    made = _hooks(ctx)
    yield made
    made.client.close()


def _hooks(ctx: AppContext) -> Hooks:
    stub = SnsStub(now=START)
    ctx.settings = ctx.settings.model_copy(
        update={
            "mailgun_signing_key": MAILGUN_KEY,
            "sendgrid_basic_auth": ":".join(SENDGRID_AUTH),
            "postmark_basic_auth": ":".join(POSTMARK_AUTH),
            "ses_topic_arns": f"arn:aws:sns:eu-west-1:123456789012:other, {stub.topic}",
            "inbound_hmac_secret": SECRET,
        }
    )
    app = create_app(ctx)
    app.state.sns_client = stub.client()
    return Hooks(ctx=ctx, client=TestClient(app), sns=stub, tokens=iter(range(1, 10**6)))


def states(ctx: AppContext) -> dict[str, str]:
    with transaction(ctx.engine) as session:
        rows = session.exec(
            select(Prospect.email, Enrollment.state).join(
                Enrollment,
                Enrollment.prospect_id == Prospect.id,  # type: ignore[arg-type]
            )
        ).all()
    return {email: state for email, state in rows}


def suppressed(ctx: AppContext) -> set[str]:
    with transaction(ctx.engine) as session:
        return {s.value for s in session.exec(select(Suppression))}


def snapshot(ctx: AppContext) -> dict[str, Any]:
    """Everything a webhook could change."""
    with transaction(ctx.engine) as session:
        counts = {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (Event, Suppression, AuditEntry, WebhookNonce)
        }
    return {**counts, "states": states(ctx), "suppressed": suppressed(ctx)}


def only_event(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert len(events) == 1
    event: dict[str, Any] = events[0]
    return event


def stored(ctx: AppContext, event_id: int) -> Event:
    with transaction(ctx.engine) as session:
        event = session.get(Event, event_id)
    assert event is not None
    return event


# --- Mailgun -------------------------------------------------------------------------------


def test_mailgun_events_bounce_complain_and_deliver(hooks: Hooks) -> None:
    ctx = hooks.ctx
    hard = only_event(
        hooks.mailgun_event(
            "mailgun_failed_permanent.json", recipient=BO, message_id="x@mg.example"
        )
    )
    soft = only_event(
        hooks.mailgun_event(
            "mailgun_failed_temporary.json", recipient=CY, message_id="y@mg.example"
        )
    )
    complaint = only_event(
        hooks.mailgun_event("mailgun_complained.json", recipient=ANN, message_id="z@mg.example")
    )
    assert (hard["kind"], hard["prospect"], hard["duplicate"]) == ("bounce", BO, False)
    assert (soft["kind"], soft["prospect"]) == ("soft_bounce", CY)
    assert (complaint["kind"], complaint["prospect"]) == ("complaint", ANN)
    assert states(ctx) == {ANN: "halted", BO: "halted", CY: "active"}
    assert suppressed(ctx) == {ANN, BO}
    event = stored(ctx, hard["event_id"])
    assert event.source == "webhook:mailgun"
    assert event.dedupe_key == "mailgun:G9Bn5sl1TC6nu79C8C0bwg"
    assert event.raw is not None and json.loads(event.raw)["event-data"]["severity"] == "permanent"

    delivered = only_event(
        hooks.mailgun_event("mailgun_delivered.json", recipient=CY, message_id="d@mg.example")
    )
    assert (delivered["kind"], delivered["prospect"]) == ("unknown", CY)
    assert states(ctx)[CY] == "active"

    # Mailgun redelivers with a fresh token: one event, nothing more happens.
    before = snapshot(ctx)
    again = only_event(
        hooks.mailgun_event(
            "mailgun_failed_permanent.json", recipient=BO, message_id="x@mg.example"
        )
    )
    assert (again["event_id"], again["duplicate"]) == (hard["event_id"], True)
    after = snapshot(ctx)
    assert after["Event"] == before["Event"]
    assert after["WebhookNonce"] == before["WebhookNonce"] + 1


def test_mailgun_route_reply_halts_parsed_or_mime(hooks: Hooks) -> None:
    ctx = hooks.ctx
    token = "r" * 50
    values = json.loads(
        fixture(
            "mailgun_route_parsed.json",
            sender=ANN,
            timestamp=str(NOW_TS),
            token=token,
            signature=hmac_sha256_hex(MAILGUN_KEY, f"{NOW_TS}{token}".encode()),
        )
    )
    body, headers = multipart({k: v.encode() for k, v in values.items()})
    reply = only_event(hooks.post("mailgun", content=body, headers=headers))
    assert (reply["kind"], reply["prospect"]) == ("reply", ANN)
    assert stored(ctx, reply["event_id"]).dedupe_key == "mid:<CAF=mg.route.1@mail.gmail.com>"

    # A route whose URL ends in "mime" posts the message whole (here urlencoded, Latin-1).
    token = "m" * 50
    mime = (
        f"From: Cy Tan <{CY}>\r\nTo: alex@brightwave.example\r\nSubject: Re: hello\r\n"
        "Message-ID: <route-mime-1@initech.example>\r\nContent-Type: text/plain; "
        "charset=iso-8859-1\r\n\r\nOui, très intéressant. Appelez-moi.\r\n"
    ).encode("latin-1")
    form = urlencode(
        {
            "body-mime": mime,
            "timestamp": str(NOW_TS),
            "token": token,
            "signature": hmac_sha256_hex(MAILGUN_KEY, f"{NOW_TS}{token}".encode()),
        }
    )
    reply = only_event(
        hooks.post(
            "mailgun", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    )
    assert (reply["kind"], reply["prospect"]) == ("reply", CY)
    raw = stored(ctx, reply["event_id"]).raw
    assert raw is not None and raw.encode("latin-1") == mime  # kept byte for byte
    assert states(ctx) == {ANN: "halted", BO: "active", CY: "halted"}


def test_mailgun_refuses_forged_stale_and_replayed_requests(hooks: Hooks) -> None:
    ctx = hooks.ctx
    values = {"recipient": BO, "message_id": "x@mg.example"}
    ok = hooks.mailgun_event("mailgun_delivered.json", token="once" * 10, **values)
    assert ok.status_code == 200
    before = snapshot(ctx)
    refusals = [
        # the same token again, even carrying another (worse) event: a replay
        hooks.mailgun_event("mailgun_failed_permanent.json", token="once" * 10, **values),
        hooks.mailgun_event("mailgun_failed_permanent.json", key="wrong-key", **values),
        hooks.mailgun_event("mailgun_failed_permanent.json", ts=NOW_TS - 301, **values),
        hooks.mailgun_event("mailgun_failed_permanent.json", ts=NOW_TS + 3600, **values),
        hooks.post("mailgun", json={"event-data": {"event": "failed", "recipient": BO}}),
        hooks.post(
            "mailgun",
            json={
                "signature": {"timestamp": str(NOW_TS), "token": "t", "signature": "0" * 64},
                "event-data": {"event": "failed", "recipient": BO},
            },
        ),
    ]
    assert [r.status_code for r in refusals] == [403] * 6
    body, headers = multipart(
        {
            "body-mime": b"From: x\r\n\r\nhi",
            "timestamp": str(NOW_TS).encode(),
            "token": b"t" * 50,
            "signature": b"0" * 64,
        }
    )
    assert hooks.post("mailgun", content=body, headers=headers).status_code == 403
    assert (
        hooks.post(
            "mailgun", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert (
        hooks.post(
            "mailgun",
            content=b"--x\r\nbroken",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        ).status_code
        == 400
    )
    assert snapshot(ctx) == before

    ctx.settings = ctx.settings.model_copy(update={"mailgun_signing_key": None})
    unconfigured = hooks.mailgun_event("mailgun_failed_permanent.json", **values)
    assert unconfigured.status_code == 403
    assert snapshot(ctx) == before


def test_unknown_recipient_is_stored_unmatched(hooks: Hooks) -> None:
    ctx = hooks.ctx
    before = snapshot(ctx)
    event = only_event(
        hooks.mailgun_event(
            "mailgun_failed_permanent.json",
            recipient="stranger@nowhere.example",
            message_id="x@mg.example",
        )
    )
    assert (event["kind"], event["prospect"], event["duplicate"]) == ("bounce", None, False)
    row = stored(ctx, event["event_id"])
    assert row.prospect_id is None and row.detail["matched"] is False
    after = snapshot(ctx)
    assert (after["Event"], after["states"], after["suppressed"]) == (
        before["Event"] + 1,
        before["states"],
        before["suppressed"],
    )


# --- SendGrid ------------------------------------------------------------------------------


def test_sendgrid_inbound_parse_raw_and_parsed_and_events(hooks: Hooks) -> None:
    ctx = hooks.ctx
    raw = (
        f"From: Ann Lee <{ANN}>\r\nTo: alex@parse.brightwave.example\r\nSubject: Re: hi\r\n"
        "Message-ID: <sg-raw-1@acme.example>\r\nDate: Mon, 23 Nov 2026 05:00:00 +0000\r\n\r\n"
        "Can we talk on Friday?\r\n"
    ).encode()
    body, headers = multipart(
        {"email": raw, "to": b"alex@parse.brightwave.example", "charsets": b'{"to":"UTF-8"}'}
    )
    reply = only_event(hooks.post("sendgrid", content=body, headers=headers, auth=SENDGRID_AUTH))
    assert (reply["kind"], reply["prospect"]) == ("reply", ANN)

    values = json.loads(fixture("sendgrid_parsed.json", sender=BO))
    body, headers = multipart(
        {k: v.encode("latin-1" if k in ("text", "html") else "utf-8") for k, v in values.items()}
    )
    reply = only_event(hooks.post("sendgrid", content=body, headers=headers, auth=SENDGRID_AUTH))
    assert (reply["kind"], reply["prospect"]) == ("reply", BO)
    assert states(ctx) == {ANN: "halted", BO: "halted", CY: "active"}

    events = fixture("sendgrid_events.json", hard=CY, soft=CY, message_id="<m@x>")
    response = hooks.post(
        "sendgrid", content=events, auth=SENDGRID_AUTH, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert [(e["kind"], e["prospect"]) for e in response.json()["events"]] == [
        ("bounce", CY),
        ("soft_bounce", CY),
        ("unknown", CY),
    ]
    assert suppressed(ctx) == {CY}
    again = hooks.post(
        "sendgrid", content=events, auth=SENDGRID_AUTH, headers={"Content-Type": "application/json"}
    )
    assert [e["duplicate"] for e in again.json()["events"]] == [True, True, True]


def test_sendgrid_soft_bounce_does_not_halt_and_bad_requests_change_nothing(hooks: Hooks) -> None:
    ctx = hooks.ctx
    blocked = [
        {
            "email": BO,
            "event": "bounce",
            "type": "blocked",
            "sg_event_id": "sg-soft-1",
            "timestamp": NOW_TS,
            "reason": "452 try later",
        }
    ]
    response = hooks.post("sendgrid", json=blocked, auth=SENDGRID_AUTH)
    assert [e["kind"] for e in response.json()["events"]] == ["soft_bounce"]
    assert states(ctx)[BO] == "active"
    before = snapshot(ctx)
    body, headers = multipart({"email": f"From: {ANN}\r\n\r\nyes\r\n".encode()})
    assert hooks.post("sendgrid", content=body, headers=headers).status_code == 401
    assert (
        hooks.post(
            "sendgrid", content=body, headers=headers, auth=("sendgrid", "guess")
        ).status_code
        == 401
    )
    assert (
        hooks.post("sendgrid", json=blocked, headers={"Authorization": "Bearer x"}).status_code
        == 401
    )
    assert (
        hooks.post(
            "sendgrid",
            content=b"[{",
            auth=SENDGRID_AUTH,
            headers={"Content-Type": "application/json"},
        ).status_code
        == 400
    )
    assert (
        hooks.post(
            "sendgrid",
            content=b"email=",
            auth=SENDGRID_AUTH,
            headers={"Content-Type": "text/plain"},
        ).status_code
        == 400
    )
    assert snapshot(ctx) == before


# --- Amazon SES through SNS ----------------------------------------------------------------


def test_ses_subscription_is_stored_and_confirmed(hooks: Hooks) -> None:
    envelope = hooks.sns.envelope(
        "You have chosen to subscribe to the topic. To confirm, visit the SubscribeURL.",
        at=START,
        kind="SubscriptionConfirmation",
        version="2",
    )
    event = only_event(hooks.ses(envelope))
    assert (event["kind"], event["prospect"]) == ("unknown", None)
    row = stored(hooks.ctx, event["event_id"])
    assert row.detail["provider_event"] == "SubscriptionConfirmation"
    assert row.detail["subscribe_url"] == hooks.sns.subscribe_url
    assert hooks.sns.fetched == [hooks.sns.cert_url, hooks.sns.subscribe_url]


def test_ses_notifications_apply_per_recipient(hooks: Hooks) -> None:
    ctx = hooks.ctx
    hard = only_event(
        hooks.ses_notification("ses_bounce_permanent.json", recipient=BO, message_id="<a@b>")
    )
    soft = only_event(
        hooks.ses_notification("ses_bounce_transient.json", recipient=CY, message_id="<a@b>")
    )
    delivery = only_event(
        hooks.ses_notification("ses_delivery.json", recipient=CY, message_id="<a@b>")
    )
    assert [(e["kind"], e["prospect"]) for e in (hard, soft, delivery)] == [
        ("bounce", BO),
        ("soft_bounce", CY),
        ("unknown", CY),
    ]
    assert states(ctx) == {ANN: "active", BO: "halted", CY: "active"}
    assert suppressed(ctx) == {BO}
    with transaction(ctx.engine) as session:
        prospect = session.exec(select(Prospect).where(Prospect.email == BO)).one()
    assert prospect.email_status == "invalid"

    complaint = only_event(
        hooks.ses_notification("ses_complaint.json", recipient=ANN, message_id="<a@b>")
    )
    assert (complaint["kind"], complaint["prospect"]) == ("complaint", ANN)
    assert suppressed(ctx) == {ANN, BO}

    mime = (
        f"From: {CY}\r\nTo: alex@in.brightwave.example\r\nSubject: Re: hi\r\n"
        "Message-ID: <ses-received-1@initech.example>\r\n\r\nHappy to talk.\r\n"
    ).encode()
    envelope = hooks.sns.envelope(
        fixture(
            "ses_received.json",
            sender=CY,
            topic=hooks.sns.topic,
            content=base64.b64encode(mime).decode(),
        ),
        at=START,
        subject="Amazon SES Email Receipt Notification",
        version="2",
    )
    reply = only_event(hooks.ses(envelope))
    assert (reply["kind"], reply["prospect"]) == ("reply", CY)
    assert states(ctx)[CY] == "halted"
    # SNS delivers at least once: the same message again is the same event.
    again = only_event(hooks.ses(envelope))
    assert (again["event_id"], again["duplicate"]) == (reply["event_id"], True)


def test_ses_refuses_forgeries_and_fetches_no_foreign_certificate(hooks: Hooks) -> None:
    ctx = hooks.ctx
    message = fixture("ses_bounce_permanent.json", recipient=BO, message_id="<a@b>")
    before = snapshot(ctx)
    evil = "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem"
    forgeries = [
        hooks.sns.envelope(
            message, at=START, tamper={"Message": message.replace("Permanent", "Transient")}
        ),
        hooks.sns.envelope(message, at=START, TopicArn="arn:aws:sns:us-east-1:666:attacker"),
        hooks.sns.envelope(message, at=START, SigningCertURL=evil),
        hooks.sns.envelope(message, at=START, tamper={"SigningCertURL": evil}),
        hooks.sns.envelope(
            message,
            at=START,
            tamper={"SigningCertURL": hooks.sns.cert_url.replace("https", "http")},
        ),
        hooks.sns.envelope(message, at=START - timedelta(days=2)),
        hooks.sns.envelope(message, at=START, tamper={"Signature": "AAAA"}),
        hooks.sns.envelope(message, at=START, tamper={"SignatureVersion": "9"}),
    ]
    assert [hooks.ses(f).status_code for f in forgeries] == [403] * len(forgeries)
    assert not any("evil" in url or url.startswith("http:") for url in hooks.sns.fetched)
    unsigned = {k: v for k, v in forgeries[0].items() if k != "Signature"}
    assert hooks.ses(unsigned).status_code == 403
    assert hooks.post("ses", content=b"{oops").status_code == 400
    assert hooks.post("ses", content=b"[1, 2]").status_code == 400
    assert snapshot(ctx) == before

    ctx.settings = ctx.settings.model_copy(update={"ses_topic_arns": None})
    assert hooks.ses(hooks.sns.envelope(message, at=START)).status_code == 403
    assert snapshot(ctx) == before


# --- Postmark ------------------------------------------------------------------------------


def test_postmark_inbound_and_bounce_webhooks(hooks: Hooks) -> None:
    ctx = hooks.ctx
    inbound = fixture("postmark_inbound.json", sender=CY)
    reply = only_event(
        hooks.post(
            "postmark",
            content=inbound,
            auth=POSTMARK_AUTH,
            headers={"Content-Type": "application/json"},
        )
    )
    assert (reply["kind"], reply["prospect"]) == ("reply", CY)
    soft = only_event(
        hooks.post(
            "postmark",
            content=fixture("postmark_bounce_soft.json", recipient=BO),
            auth=POSTMARK_AUTH,
        )
    )
    assert (soft["kind"], states(ctx)[BO]) == ("soft_bounce", "active")
    hard = only_event(
        hooks.post(
            "postmark",
            content=fixture("postmark_bounce_hard.json", recipient=BO),
            auth=POSTMARK_AUTH,
        )
    )
    spam = only_event(
        hooks.post(
            "postmark",
            content=fixture("postmark_spam_complaint.json", recipient=ANN),
            auth=POSTMARK_AUTH,
        )
    )
    assert [(e["kind"], e["prospect"]) for e in (hard, spam)] == [
        ("bounce", BO),
        ("complaint", ANN),
    ]
    assert states(ctx) == {ANN: "halted", BO: "halted", CY: "halted"}
    assert suppressed(ctx) == {ANN, BO}
    again = only_event(
        hooks.post(
            "postmark",
            content=fixture("postmark_bounce_hard.json", recipient=BO),
            auth=POSTMARK_AUTH,
        )
    )
    assert (again["event_id"], again["duplicate"]) == (hard["event_id"], True)


def test_postmark_refuses_missing_or_wrong_auth_and_bad_json(hooks: Hooks) -> None:
    before = snapshot(hooks.ctx)
    body = fixture("postmark_bounce_hard.json", recipient=BO)
    missing = hooks.post("postmark", content=body)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Basic")
    assert hooks.post("postmark", content=body, auth=("postmark", "nope")).status_code == 401
    assert hooks.post("postmark", content=body[:-5], auth=POSTMARK_AUTH).status_code == 400
    assert hooks.post("postmark", content=b'"a string"', auth=POSTMARK_AUTH).status_code == 400
    assert (
        hooks.post("postmark", content=b'{"Subject": "x"}', auth=POSTMARK_AUTH).status_code == 400
    )
    assert snapshot(hooks.ctx) == before


# --- raw and generic -----------------------------------------------------------------------


def test_raw_and_provider_events_match_by_message_id(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    first = _sent_first_touches(ctx, clock)
    hooks = _hooks(ctx)
    now = int(clock.now().timestamp())
    ann_touch, bo_touch = first[1], first[2]
    # Ann answers from her private address: only In-Reply-To ties it to her.
    raw = (
        "From: Ann <ann.lee@personal.example>\r\nTo: alex@brightwave.example\r\n"
        f"Subject: Re: {ann_touch.subject}\r\nMessage-ID: <raw-1@personal.example>\r\n"
        f"In-Reply-To: {ann_touch.message_id}\r\nReferences: {ann_touch.message_id}\r\n\r\n"
        "Yes, Thursday is good.\r\n"
    ).encode()
    reply = only_event(hooks.signed("raw", raw, ts=now))
    assert (reply["kind"], reply["prospect"]) == ("reply", ANN)
    # Bo's mailbox was renamed; Mailgun reports the old address, the Message-ID is ours.
    assert bo_touch.message_id is not None
    bounce = only_event(
        hooks.mailgun_event(
            "mailgun_failed_permanent.json",
            ts=now,
            recipient="b.berg@globex.example",
            message_id=bo_touch.message_id.strip("<>"),
        )
    )
    assert (bounce["kind"], bounce["prospect"]) == ("bounce", BO)
    assert {k: v for k, v in states(ctx).items()} == {ANN: "halted", BO: "halted", CY: "active"}


def test_raw_refuses_unsigned_forged_stale_and_replayed(hooks: Hooks) -> None:
    ctx = hooks.ctx
    raw = (
        f"From: {ANN}\r\nSubject: Re: hi\r\nMessage-ID: <raw-2@acme.example>\r\n\r\nYes.\r\n"
    ).encode()
    headers = cadence_signature(SECRET, raw, NOW_TS)
    assert only_event(hooks.post("raw", content=raw, headers=headers))["prospect"] == ANN
    before = snapshot(ctx)
    tampered = raw.replace(b"Yes.", b"Stop.")
    codes = [
        hooks.post("raw", content=raw, headers=headers).status_code,  # replay
        hooks.post("raw", content=tampered, headers=headers).status_code,
        hooks.post("raw", content=raw).status_code,
        hooks.post(
            "raw", content=raw, headers={**headers, "X-Cadence-Signature": "sha256=00"}
        ).status_code,
        hooks.signed("raw", raw, ts=NOW_TS - 600).status_code,
        hooks.signed("raw", raw, ts=NOW_TS + 600).status_code,
        hooks.signed("raw", raw, secret="guessed").status_code,
        hooks.post(
            "raw", content=raw, headers={"X-Cadence-Signature": headers["X-Cadence-Signature"]}
        ).status_code,
    ]
    assert codes == [403, 403, 401, 403, 403, 403, 403, 401]
    assert hooks.signed("raw", b"   ", ts=NOW_TS).status_code == 400
    assert snapshot(ctx) == {**before, "WebhookNonce": before["WebhookNonce"]}


def test_generic_meeting_halts_and_its_id_makes_it_idempotent(hooks: Hooks) -> None:
    ctx = hooks.ctx
    body = fixture("generic_meeting.json", recipient=ANN).encode()
    meeting = only_event(hooks.signed("generic", body))
    assert (meeting["kind"], meeting["prospect"], meeting["duplicate"]) == ("meeting", ANN, False)
    assert states(ctx)[ANN] == "halted"
    # The CRM resends (signed anew a minute later): the same event.
    again = only_event(hooks.signed("generic", body, ts=NOW_TS + 60))
    assert (again["event_id"], again["duplicate"]) == (meeting["event_id"], True)
    stranger = json.dumps({"kind": "reply", "email": "who@else.example", "id": "crm-2"}).encode()
    unmatched = only_event(hooks.signed("generic", stranger))
    assert (unmatched["kind"], unmatched["prospect"]) == ("reply", None)
    bounce = json.dumps({"kind": "bounce", "bounce": "soft", "email": BO, "id": "crm-3"}).encode()
    assert only_event(hooks.signed("generic", bounce))["kind"] == "soft_bounce"
    assert states(ctx) == {ANN: "halted", BO: "active", CY: "active"}


def test_generic_refuses_bad_requests(hooks: Hooks) -> None:
    ctx = hooks.ctx
    body = json.dumps({"kind": "unsubscribe", "email": CY, "id": "crm-9"}).encode()
    headers = cadence_signature(SECRET, body, NOW_TS)
    assert hooks.post("generic", content=body, headers=headers).status_code == 200
    before = snapshot(ctx)
    assert hooks.post("generic", content=body, headers=headers).status_code == 403  # replay
    assert hooks.post("generic", content=body).status_code == 401
    assert hooks.signed("generic", body, secret="nope").status_code == 403
    assert hooks.signed("generic", body, ts=NOW_TS - 301).status_code == 403
    assert hooks.signed("generic", b'{"kind": "meeting"').status_code == 400
    assert (
        hooks.signed("generic", b'{"kind": "party", "email": "a@b.c", "id": "1"}').status_code
        == 400
    )
    assert snapshot(ctx)["Event"] == before["Event"]
    assert snapshot(ctx)["states"] == before["states"]

    ctx.settings = ctx.settings.model_copy(update={"inbound_hmac_secret": None})
    assert hooks.signed("generic", body, ts=NOW_TS + 1).status_code == 403


# --- every endpoint ------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "ses", "postmark", "raw", "generic"])
def test_oversize_bodies_are_refused_before_anything_else(hooks: Hooks, provider: str) -> None:
    before = snapshot(hooks.ctx)
    huge = b"x" * (20 * 1024 * 1024 + 1)
    response = hooks.post(provider, content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert snapshot(hooks.ctx) == before


def test_oversize_chunked_body_is_cut_off(hooks: Hooks) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(21):
            yield b"x" * (1024 * 1024)

    before = snapshot(hooks.ctx)
    fresh = cadence_signature(SECRET, b"", NOW_TS)  # signed headers: the body is read
    assert hooks.post("raw", content=chunks(), headers=fresh).status_code == 413
    assert snapshot(hooks.ctx) == before


def test_a_failure_after_the_nonce_gives_it_back_so_the_retry_is_accepted(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cadence.inbound.providers import recording

    real = recording.process_inbound
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(recording, "process_inbound", flaky)
    mime = f"From: {ANN}\r\nMessage-ID: <retry-1@acme.example>\r\n\r\nYes please.\r\n".encode()
    headers = cadence_signature(SECRET, mime, NOW_TS)
    with pytest.raises(RuntimeError):
        hooks.post("raw", content=mime, headers=headers)
    retry = only_event(hooks.post("raw", content=mime, headers=headers))
    assert (retry["kind"], retry["prospect"]) == ("reply", ANN)


def test_the_openapi_schema_lists_every_provider(hooks: Hooks) -> None:
    paths = hooks.client.get("/openapi.json").json()["paths"]
    for provider in ("mailgun", "sendgrid", "ses", "postmark", "raw", "generic"):
        assert f"/api/v1/inbound/{provider}" in paths

"""Signed provider webhooks under ``/api/v1/inbound/{provider}``.

Each endpoint checks what the headers alone can (credentials, our signature's headers and
timestamp), then reads the body up to its provider's limit (``CADENCE_INBOUND_MAX_BODY_BYTES``
or less: see :data:`JSON_EVENTS_MAX_BYTES`), authenticates it, parses it, stores it raw and
applies it. Mailgun's and SNS's signatures are inside the body, so those two are read
unauthenticated: their small limits and the bounded parsers (at most so many JSON values or
form fields, :mod:`cadence.inbound.providers.base`) are what keeps a stranger's body small.
Refusals change nothing: 400 malformed (JSON nested too deeply included), 401 missing or
wrong credentials, 403 bad signature, stale, replayed, unknown topic or unconfigured
provider, 413 too large or too many values.
Accepted items answer 200 with what was recorded, also when nobody matched (kept for
review): providers retry on errors, and a retry would not match anybody either.

Store work is synchronous, so it runs in the thread pool, off the event loop.
"""

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cadence.inbound.providers import generic, mailgun, postmark, raw, sendgrid, ses, sns
from cadence.inbound.providers.base import (
    Forbidden,
    Malformed,
    TooLarge,
    WebhookRejected,
    json_object,
    json_value,
)
from cadence.inbound.providers.formdata import parse_form
from cadence.inbound.providers.recording import Recorded, record_message, record_provider_events
from cadence.inbound.providers.signing import (
    check_basic_auth,
    check_cadence_headers,
    check_cadence_signature,
)
from cadence.runtime.context import AppContext
from cadence.web.deps import context
from cadence.web.gate import closing

log = logging.getLogger(__name__)

inbound_router = APIRouter(tags=["inbound"])
Ctx = Annotated[AppContext, Depends(context)]

Work = Callable[[bytes], list[Recorded]]

#: A provider's JSON event or notification: one SNS message is at most 256 KB (escaped once
#: more in its envelope), a Mailgun event a few KB; mail with attachments comes as forms,
#: raw MIME or Postmark's JSON, which keep ``CADENCE_INBOUND_MAX_BODY_BYTES``.
JSON_EVENTS_MAX_BYTES = 1024 * 1024
#: Our own signed event (``/generic``): a handful of short fields.
GENERIC_MAX_BYTES = 64 * 1024


async def _handle(
    request: Request,
    provider: str,
    work: Work,
    *,
    before_body: Callable[[], None] | None = None,
    max_bytes: int | None = None,
    opens_with: bytes = b"",
) -> JSONResponse:
    """Read the body and run ``work`` on it off the event loop; ``before_body`` checks what
    the headers alone can (Basic auth, our signature's headers), so a sender without them is
    refused unread. ``max_bytes`` lowers the inbound limit for this provider; a body whose
    first byte is not one of ``opens_with`` is refused as that byte arrives."""
    body: bytes | None = None
    reading = False
    try:
        if before_body is not None:
            before_body()
        limit = request.app.state.ctx.settings.inbound_max_body_bytes
        reading = True
        body = await _body(request, min(limit, max_bytes or limit), opens_with)
        recorded = await run_in_threadpool(_parsed, work, body)
    except WebhookRejected as error:
        log.warning("inbound %s refused (%d): %s", provider, error.status_code, error)
        headers = {"WWW-Authenticate": 'Basic realm="cadence"'} if error.status_code == 401 else {}
        if body is None:  # the rest of the body is left unread
            headers.update({"Connection": "close"} if reading else closing(request.headers))
        return JSONResponse({"detail": str(error)}, status_code=error.status_code, headers=headers)
    return JSONResponse(
        {"provider": provider, "events": [r.as_json() for r in recorded]}, status_code=200
    )


async def _body(request: Request, limit: int, opens_with: bytes) -> bytes:
    """The body, refused (413) once it passes ``limit``, whatever ``Content-Length`` says,
    and refused on the header alone when that declares more."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    opened = not opens_with
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body over {limit} bytes")
        if not opened and (first := chunk.lstrip()[:1]):
            if first not in opens_with:
                raise Malformed("body is not the JSON this provider sends")
            opened = True
        chunks.append(chunk)
    return b"".join(chunks)


def _parsed(work: Work, body: bytes) -> list[Recorded]:
    """Run ``work``; JSON nested deeper than Python's parser recurses (``[[[[...``) is
    malformed input, whichever parser or walk over the value meets it."""
    try:
        return work(body)
    except RecursionError:
        raise Malformed("body is nested too deeply") from None


def _is_json(request: Request) -> bool:
    return "json" in request.headers.get("content-type", "").lower()


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


@inbound_router.post("/mailgun")
async def mailgun_webhook(request: Request, ctx: Ctx) -> JSONResponse:
    """Mailgun routes (form: ``body-mime`` or parsed fields) and events (JSON), signed with
    the webhook signing key; each token is accepted once."""
    settings = ctx.settings
    content_type = request.headers.get("content-type")
    as_json = _is_json(request)

    def work(body: bytes) -> list[Recorded]:
        if not settings.mailgun_signing_key:
            raise Forbidden("CADENCE_MAILGUN_SIGNING_KEY is not configured")
        now, max_age = ctx.clock.now(), settings.webhook_max_age_seconds
        if as_json:
            payload = json_object(body, max_tokens=mailgun.MAX_EVENT_TOKENS)
            signature = mailgun.event_signature(payload)
            signature.verify(settings.mailgun_signing_key, now=now, max_age_seconds=max_age)
            event = mailgun.parse_event(payload, now=now)
            return record_provider_events(
                ctx, [event], raw=_text(body), nonce=(mailgun.PROVIDER, signature.token)
            )
        fields = parse_form(content_type, body)
        signature = mailgun.route_signature(fields)
        signature.verify(settings.mailgun_signing_key, now=now, max_age_seconds=max_age)
        message = mailgun.route_message(fields)
        return [record_message(ctx, message, provider=mailgun.PROVIDER, nonce=signature.token)]

    def configured() -> None:
        if not settings.mailgun_signing_key:
            raise Forbidden("CADENCE_MAILGUN_SIGNING_KEY is not configured")

    if as_json:  # an event; a route's form may carry attachments
        return await _handle(
            request,
            mailgun.PROVIDER,
            work,
            before_body=configured,
            max_bytes=JSON_EVENTS_MAX_BYTES,
            opens_with=b"{",
        )
    return await _handle(request, mailgun.PROVIDER, work, before_body=configured)


@inbound_router.post("/sendgrid")
async def sendgrid_webhook(request: Request, ctx: Ctx) -> JSONResponse:
    """SendGrid Inbound Parse (form, raw or parsed) and Event Webhook (JSON array), with
    Basic auth."""
    authorization = request.headers.get("authorization")
    content_type = request.headers.get("content-type")
    as_json = _is_json(request)

    def work(body: bytes) -> list[Recorded]:
        if as_json:
            batch = json_value(body, max_tokens=sendgrid.MAX_BATCH_TOKENS)
            events = sendgrid.parse_events(batch, now=ctx.clock.now())
            return record_provider_events(ctx, events, raw=_text(body))
        message = sendgrid.parse_message(parse_form(content_type, body))
        return [record_message(ctx, message, provider=sendgrid.PROVIDER)]

    def authorized() -> None:
        check_basic_auth(authorization, ctx.settings.sendgrid_basic_auth)

    return await _handle(request, sendgrid.PROVIDER, work, before_body=authorized)


def sns_client(request: Request) -> sns.SnsClient:
    """The app's SNS client (certificate cache); tests put one with a fake fetcher on
    ``app.state.sns_client`` before the first request."""
    client = getattr(request.app.state, "sns_client", None)
    if not isinstance(client, sns.SnsClient):
        client = sns.SnsClient()
        request.app.state.sns_client = client
    return client


@inbound_router.post("/ses")
async def ses_webhook(request: Request, ctx: Ctx) -> JSONResponse:
    """Amazon SES through SNS: the SNS signature is verified against the signing
    certificate; subscription confirmations are stored and confirmed."""
    client = sns_client(request)
    topics = frozenset(
        t.strip() for t in (ctx.settings.ses_topic_arns or "").split(",") if t.strip()
    )

    def work(body: bytes) -> list[Recorded]:
        now = ctx.clock.now()
        envelope = json_object(body, max_tokens=sns.MAX_ENVELOPE_TOKENS)
        sns.verify(envelope, client=client, topics=topics, now=now)
        if envelope.get("Type") != "Notification":
            recorded = record_provider_events(
                ctx, [ses.envelope_event(envelope, now=now)], raw=_text(body)
            )
            if envelope.get("Type") == "SubscriptionConfirmation":
                _confirm(client, str(envelope.get("SubscribeURL")))
            return recorded
        parsed = ses.notification(envelope, now=now)
        if isinstance(parsed, bytes):
            return [record_message(ctx, parsed, provider=ses.PROVIDER)]
        return record_provider_events(ctx, parsed, raw=_text(body))

    def configured() -> None:
        if not topics:
            raise Forbidden("CADENCE_SES_TOPIC_ARNS is not configured")

    return await _handle(
        request,
        ses.PROVIDER,
        work,
        before_body=configured,
        max_bytes=JSON_EVENTS_MAX_BYTES,
        opens_with=b"{",
    )


def _confirm(client: sns.SnsClient, url: str) -> None:
    """Confirm after storing: if AWS cannot be reached, 503 makes SNS send it again."""
    try:
        client.confirm_subscription(url)
    except WebhookRejected:
        raise
    except Exception as error:  # any network failure: ask SNS to retry
        log.warning("SNS subscription not confirmed (%s); SNS will resend it", error)
        raise sns.Unavailable("could not confirm the SNS subscription; retry later") from error


@inbound_router.post("/postmark")
async def postmark_webhook(request: Request, ctx: Ctx) -> JSONResponse:
    """Postmark inbound JSON and bounce, spam complaint and subscription webhooks, with
    Basic auth."""
    authorization = request.headers.get("authorization")

    def work(body: bytes) -> list[Recorded]:
        payload = json_object(body)
        if postmark.is_inbound(payload):
            message = postmark.parse_message(payload)
            return [record_message(ctx, message, provider=postmark.PROVIDER)]
        event = postmark.parse_event(payload, now=ctx.clock.now())
        return record_provider_events(ctx, [event], raw=_text(body))

    def authorized() -> None:
        check_basic_auth(authorization, ctx.settings.postmark_basic_auth)

    return await _handle(request, postmark.PROVIDER, work, before_body=authorized)


@inbound_router.post("/raw")
async def raw_webhook(request: Request, ctx: Ctx) -> JSONResponse:
    """A raw RFC 822 message signed with ``X-Cadence-Signature`` and
    ``X-Cadence-Timestamp`` (HMAC-SHA256 of ``timestamp + "." + body``)."""
    headers = dict(request.headers)
    settings = ctx.settings

    def work(body: bytes) -> list[Recorded]:
        nonce = raw.verify_message(
            ctx.settings.inbound_hmac_secret,
            headers,
            body,
            now=ctx.clock.now(),
            max_age_seconds=ctx.settings.webhook_max_age_seconds,
        )
        return [record_message(ctx, body, provider=raw.PROVIDER, nonce=nonce)]

    def signed() -> None:
        check_cadence_headers(
            settings.inbound_hmac_secret,
            signature=headers.get("x-cadence-signature"),
            timestamp=headers.get("x-cadence-timestamp"),
            now=ctx.clock.now(),
            max_age_seconds=settings.webhook_max_age_seconds,
        )

    return await _handle(request, raw.PROVIDER, work, before_body=signed)


@inbound_router.post("/generic")
async def generic_webhook(request: Request, ctx: Ctx) -> JSONResponse:
    """A signed JSON event from another system: ``{"kind": "meeting"|"reply"|"unsubscribe"|
    "bounce", "email", "at", "id"}``; the same ``id`` twice is one event."""
    signature = request.headers.get("x-cadence-signature")
    timestamp = request.headers.get("x-cadence-timestamp")

    def work(body: bytes) -> list[Recorded]:
        now = ctx.clock.now()
        nonce = check_cadence_signature(
            ctx.settings.inbound_hmac_secret,
            body=body,
            signature=signature,
            timestamp=timestamp,
            now=now,
            max_age_seconds=ctx.settings.webhook_max_age_seconds,
        )
        event = generic.parse_event(json_object(body), now=now)
        return record_provider_events(
            ctx, [event], raw=_text(body), nonce=(generic.PROVIDER, nonce)
        )

    def signed() -> None:
        check_cadence_headers(
            ctx.settings.inbound_hmac_secret,
            signature=signature,
            timestamp=timestamp,
            now=ctx.clock.now(),
            max_age_seconds=ctx.settings.webhook_max_age_seconds,
        )

    return await _handle(
        request, generic.PROVIDER, work, before_body=signed, max_bytes=GENERIC_MAX_BYTES
    )

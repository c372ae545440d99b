"""Hostile bodies against the web process: callers without a token or session are refused
before one byte of their body is taken in, every route has a body limit counted as the
bytes arrive (whatever ``Content-Length`` says, or with none), and no body, however deeply
nested, makes any route answer 500."""

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadence.api.app import create_app
from cadence.api.routes.inbound import GENERIC_MAX_BYTES, JSON_EVENTS_MAX_BYTES
from cadence.inbound.providers.base import (
    MAX_JSON_TOKENS,
    Malformed,
    TooLarge,
    count_tokens,
    json_object,
    json_value,
)
from cadence.inbound.providers.formdata import MAX_FIELDS, MAX_FILES, parse_form
from cadence.inbound.providers.signing import cadence_signature
from cadence.runtime.context import AppContext
from cadence.store.api_users import Role, add_user
from cadence.store.database import transaction
from tests.integration.conftest import START
from tests.integration.engine.test_engine import _setup

from .asgi_driver import call

pytestmark = pytest.mark.integration

SECRET = "cadence-inbound-secret"
BASIC = ("hook", "hook-pass")
MB = 1024 * 1024
#: Deep enough that Python's own parser gives up (its limit is about 1,000 levels).
DEPTH = 100_000
ORIGIN = "https://testserver"


@dataclass
class Web:
    ctx: AppContext
    app: FastAPI
    client: TestClient
    token: str

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def web(make_context: Callable[..., AppContext], tmp_path: Path) -> Web:
    ctx = make_context()
    _setup(ctx, tmp_path)
    basic = f"{BASIC[0]}:{BASIC[1]}"
    ctx.settings = ctx.settings.model_copy(
        update={
            "inbound_hmac_secret": SECRET,
            "mailgun_signing_key": "key-test",
            "sendgrid_basic_auth": basic,
            "postmark_basic_auth": basic,
            "ses_topic_arns": "arn:aws:sns:us-east-1:123456789012:cadence",
        }
    )
    with transaction(ctx.engine) as session:
        token = add_user(session, "root", Role.ADMIN, now=START, actor="test")
    app = create_app(ctx)
    return Web(ctx, app, TestClient(app, base_url=ORIGIN), token)


#: Routes a caller must be signed in for, with a body each would take.
GUARDED = [
    ("POST", "/api/v1/enrollments"),
    ("POST", "/api/v1/enrollments/1/pause"),
    ("POST", "/api/v1/tasks/1/complete"),
    ("PUT", "/api/v1/prospects/1"),
    ("POST", "/api/v1/no-such-route"),
    ("POST", "/ui/signout"),
    ("POST", "/ui/prospects"),
]


def _slow_body(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"[" * chunk
        sent += chunk


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_no_token_or_session_is_refused_before_the_body_is_read(
    web: Web, method: str, path: str
) -> None:
    pages = path.startswith("/ui")
    for credentials in (
        [],
        [("authorization", "Bearer cad_not-a-real-token")],
        [("authorization", f"Basic {web.token}")],
        [("cookie", f"cadence_session={web.token}")],  # the API token is not a session
        [("cookie", "cadence_session=cads_forged")],
    ):
        headers = [("content-type", "application/json"), ("content-length", str(55 * MB))]
        headers += [("origin", ORIGIN), *credentials]
        answer = call(web.app, method, path, headers=headers, chunks=_slow_body(55 * MB))
        assert answer.received == 0, (path, credentials)
        assert answer.status in ((303,) if pages else (401, 413)), (path, answer)
        assert answer.headers.get("connection") == "close"
        # Chunked, no length declared: refused the same way, nothing read.
        chunked = [h for h in headers if h[0] != "content-length"]
        chunked.append(("transfer-encoding", "chunked"))
        answer = call(web.app, method, path, headers=chunked, chunks=_slow_body(55 * MB))
        assert (answer.received, answer.status) == (0, 303 if pages else 401), path


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(authorization=st.text(max_size=300).filter(lambda t: "\n" not in t and "\r" not in t))
def test_any_other_authorization_header_is_refused_unread(web: Web, authorization: str) -> None:
    headers = [("authorization", authorization), ("content-length", str(MB))]
    answer = call(web.app, "POST", "/api/v1/enrollments", headers=headers, chunks=_slow_body(MB))
    assert (answer.status, answer.received) == (401, 0)
    assert answer.json() == {"detail": answer.json()["detail"]} and "Bearer" in str(
        answer.headers.get("www-authenticate")
    )


def test_a_signed_in_caller_is_cut_off_at_the_limit_whatever_content_length_says(
    web: Web,
) -> None:
    limit = web.ctx.settings.max_body_bytes
    auth = [("authorization", f"Bearer {web.token}"), ("content-type", "application/json")]
    for declared in (None, "10", str(limit), "0"):  # absent, lying low, honest-looking
        headers = auth + ([("content-length", declared)] if declared is not None else [])
        answer = call(
            web.app, "POST", "/api/v1/enrollments", headers=headers, chunks=_slow_body(55 * MB)
        )
        assert answer.status == 413, declared
        assert limit < answer.received <= limit + 64 * 1024, declared  # stopped at the limit
    declared_big = [*auth, ("content-length", str(limit + 1))]
    answer = call(
        web.app, "POST", "/api/v1/enrollments", headers=declared_big, chunks=_slow_body(MB)
    )
    assert (answer.status, answer.received) == (413, 0)  # refused on the header alone


@pytest.mark.parametrize(
    "path", ["/unsubscribe/abcdefghijklmnop", "/ui/signin", "/healthz", "/nowhere"]
)
def test_routes_without_a_token_have_the_limit_too(web: Web, path: str) -> None:
    headers = [("origin", ORIGIN), ("content-type", "application/x-www-form-urlencoded")]
    answer = call(web.app, "POST", path, headers=headers, chunks=_slow_body(55 * MB))
    assert answer.status in (404, 405, 413), path
    assert answer.received <= web.ctx.settings.max_body_bytes + 64 * 1024, path


def test_the_webhooks_limit_is_their_own(web: Web) -> None:
    """A webhook may carry a whole message (20 MB by default); nothing else may."""
    body = b"x" * (2 * MB)
    signed = cadence_signature(SECRET, body, int(START.timestamp()))
    raw = web.client.post("/api/v1/inbound/raw", content=body, headers=signed)
    assert raw.status_code != 413
    api = web.client.post("/api/v1/enrollments", content=body, headers=web.bearer())
    assert api.status_code == 413
    web.ctx.settings = web.ctx.settings.model_copy(update={"inbound_max_body_bytes": MB})
    smaller = TestClient(create_app(web.ctx))
    assert smaller.post("/api/v1/inbound/raw", content=body, headers=signed).status_code == 413


# --- deeply nested JSON ----------------------------------------------------------------------


def _nested(depth: int, opener: str = "[") -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return (opener * depth + "1" + closer * depth).encode()


def _json_routes(web: Web, body: bytes) -> list[tuple[str, str, dict[str, str]]]:
    """Every route that takes JSON, with the credentials it needs to reach its parser."""
    basic = "Basic " + base64.b64encode(f"{BASIC[0]}:{BASIC[1]}".encode()).decode()
    signed = cadence_signature(SECRET, body, int(START.timestamp()))
    json_type = {"Content-Type": "application/json"}
    return [
        ("POST", "/api/v1/enrollments", {**json_type, **web.bearer()}),
        ("POST", "/api/v1/enrollments/1/pause", {**json_type, **web.bearer()}),
        ("POST", "/api/v1/enrollments/1/resume", {**json_type, **web.bearer()}),
        ("POST", "/api/v1/enrollments/1/halt", {**json_type, **web.bearer()}),
        ("POST", "/api/v1/tasks/1/complete", {**json_type, **web.bearer()}),
        ("POST", "/api/v1/inbound/mailgun", json_type),
        ("POST", "/api/v1/inbound/sendgrid", {**json_type, "Authorization": basic}),
        ("POST", "/api/v1/inbound/ses", {"Content-Type": "text/plain; charset=UTF-8"}),
        ("POST", "/api/v1/inbound/postmark", {**json_type, "Authorization": basic}),
        ("POST", "/api/v1/inbound/generic", {**json_type, **signed}),
        ("POST", "/ui/signin", {**json_type, "Origin": ORIGIN}),
        ("POST", "/unsubscribe/abcdefghijklmnop", json_type),
    ]


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_json_nested_a_hundred_thousand_deep_is_a_4xx_on_every_route(web: Web, opener: str) -> None:
    body = _nested(DEPTH, opener)
    for method, path, headers in _json_routes(web, body):
        response = web.client.request(method, path, content=body, headers=headers)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)


NOT_JSON_NUMBERS = [
    "NaN",
    "-Infinity",
    "1e400",  # parses to infinity
    '{"outcome": NaN, "reason": Infinity, "cadence": -Infinity, "emails": [NaN]}',
    '{"kind": "reply", "email": "ann@acme.example", "at": NaN, "id": Infinity}',
    '[{"event": "bounce", "timestamp": NaN, "email": "ann@acme.example", "sg_event_id": 1e999}]',
    '{"signature": {"timestamp": NaN, "token": Infinity, "signature": NaN}, "event-data": NaN}',
    '{"Type": "Notification", "Timestamp": NaN, "Message": Infinity, "RecordType": NaN}',
]


@pytest.mark.parametrize("body", NOT_JSON_NUMBERS)
def test_numbers_json_has_no_words_for_never_fail_a_route(web: Web, body: str) -> None:
    """Python's parser takes NaN and Infinity; JSON has no such numbers, and echoing them
    back in a 422 used to fail and answer 500."""
    for method, path, headers in _json_routes(web, body.encode()):
        response = web.client.request(method, path, content=body, headers=headers)
        # An authenticated provider event of no known kind is kept for review: 200.
        assert response.status_code < 500, (path, response.status_code, response.text)
        if path.startswith("/api/"):
            json.loads(response.text, parse_constant=_refuse_constant)  # strict JSON back


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"{name} in a response")


#: Bodies that are not text a JSON encoder can send back: echoed in a 422, they used to
#: fail to encode and answer 500.
NOT_UTF8_TEXT = [
    b"\xff\xfe\x00{\x00}",
    "{}".encode("utf-16"),
    b'{"cadence": "\\ud800", "emails": ["\\udfff@x.example"]}',
    b'{"kind": "reply", "email": "\\ud800@x.example", "id": "\\ud800"}',
    b'{"kind": "reply", "email": "ann@acme.example", "id": NaN}',
    b'{"kind": "reply", "email": "ann@acme.example", "id": "x", "at": "0001-01-01T00:00:00+14:00"}',
    b'{"kind": "reply", "email": "ann@acme.example", "id": "y", "at": "9999-12-31T23:59:59-14:00"}',
]


@pytest.mark.parametrize("body", NOT_UTF8_TEXT)
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_bodies_that_cannot_be_echoed_are_never_a_500(
    web: Web, body: bytes, content_type: str
) -> None:
    for method, path, headers in _json_routes(web, body):
        headers = {**headers, "Content-Type": content_type}
        response = web.client.request(method, path, content=body, headers=headers)
        assert response.status_code < 500, (path, response.status_code, response.text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    value=json_values,
    depth=st.integers(min_value=0, max_value=20_000),
    opener=st.sampled_from(["[", '{"k":', '{"kind": "reply", "email": ']),
)
def test_no_json_body_makes_any_route_fail(web: Web, value: Any, depth: int, opener: str) -> None:
    """Any JSON value, wrapped any number of levels deep, and the same cut short: never 500."""
    closer = "]" if opener == "[" else "}"
    text = opener * depth + json.dumps(value) + closer * depth
    for body in (text.encode(), text[: len(text) // 2].encode()):
        # A signed raw message of brackets is a strange email, not an error: stored, 200.
        signed = cadence_signature(SECRET, body, int(START.timestamp()))
        raw = ("POST", "/api/v1/inbound/raw", signed)
        for method, path, headers in [*_json_routes(web, body), raw]:
            response = web.client.request(method, path, content=body, headers=headers)
            assert response.status_code < 500, (path, response.status_code, response.text)


# --- a real server on loopback -------------------------------------------------------------


@pytest.fixture
def served(web: Web) -> Iterator[tuple[str, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(web.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=10)


def _answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def _upload(sock: socket.socket, total: int) -> None:
    for chunk in _slow_body(total):
        sock.sendall(chunk)


def test_a_slow_unauthenticated_upload_is_answered_and_cut_before_its_body(
    served: tuple[str, int],
) -> None:
    """55 MB announced, 64 KB sent: the 401 comes at once and the server hangs up, so the
    other 55 MB are never taken in."""
    with socket.create_connection(served, timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/enrollments HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 57671680\r\n\r\n" + b"[" * 65536
        )
        head = _answer(sock)
        assert head.startswith(b"HTTP/1.1 401"), head[:200]
        assert b"connection: close" in head.lower()
        sock.settimeout(5)
        while sock.recv(65536):  # the rest of the answer, then the server hangs up
            pass
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            _upload(sock, 55 * MB)  # nobody reads the other 55 MB


def test_a_chunked_upload_over_the_limit_is_answered_413_at_the_limit(
    served: tuple[str, int], web: Web
) -> None:
    with socket.create_connection(served, timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/enrollments HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {web.token}\r\n".encode()
            + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent, head = 0, b""
        sock.settimeout(0.05)
        while not head and sent < 20 * MB:
            chunk = b"[" * 65536
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sent += len(chunk)
            try:
                head = sock.recv(65536)
            except TimeoutError:
                continue
        assert head.startswith(b"HTTP/1.1 413"), head[:200]
        assert sent < 4 * MB  # answered near the 1 MB limit, not after the whole upload


@pytest.mark.parametrize("provider", ["sendgrid", "postmark"])
def test_webhooks_with_basic_auth_refuse_a_stranger_unread(web: Web, provider: str) -> None:
    """Their credentials are in a header, so nothing of the body is taken in without them."""
    wrong = base64.b64encode(b"hook:guess").decode()
    for credentials in ([], [("authorization", f"Basic {wrong}")], [("authorization", "Basic")]):
        headers = [("content-type", "application/json"), *credentials]
        path = f"/api/v1/inbound/{provider}"
        answer = call(web.app, "POST", path, headers=headers, chunks=_slow_body(19 * MB))
        assert (answer.status, answer.received) == (401, 0), credentials


def test_the_gate_holds_under_a_proxys_path_prefix(web: Web) -> None:
    """Mounted under ``--root-path /cadence``, the server's paths carry the prefix."""
    json_body = [("content-type", "application/json")]
    api = call(web.app, "POST", "/api/v1/enrollments", headers=json_body, root_path="/cadence")
    assert api.status == 401
    form = [("content-type", "application/x-www-form-urlencoded")]
    hostile = [*form, ("origin", "https://evil.example")]
    chunks = [f"token={web.token}".encode()]
    signin = call(
        web.app, "POST", "/ui/signin", headers=hostile, chunks=chunks, root_path="/cadence"
    )
    assert signin.status == 403


# --- webhooks: what a stranger's body may cost -----------------------------------------------


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    return (body[i : i + size] for i in range(0, len(body), size))


@pytest.mark.parametrize("path", ["/api/v1/inbound/ses", "/api/v1/inbound/mailgun"])
def test_json_events_have_a_limit_of_their_own_far_below_mail(web: Web, path: str) -> None:
    """An SNS message or a Mailgun event is small; these two are read before any signature
    can be checked, so they may not take the 20 MiB a message with attachments may."""
    limit = JSON_EVENTS_MAX_BYTES
    headers = [("content-type", "application/json")]
    big = b'{"a": "' + b"x" * (3 * MB) + b'"}'
    answer = call(web.app, "POST", path, headers=headers, chunks=_chunks(big))
    assert answer.status == 413, answer
    assert limit < answer.received <= limit + 64 * 1024
    assert answer.headers.get("connection") == "close"
    declared = [*headers, ("content-length", str(len(big)))]
    answer = call(web.app, "POST", path, headers=declared, chunks=_chunks(big))
    assert (answer.status, answer.received) == (413, 0)  # refused on the header alone


def test_a_mailgun_route_form_keeps_the_mail_limit(web: Web) -> None:
    body = b"body-mime=" + b"x" * (3 * MB) + b"&timestamp=1&token=t&signature=s"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = web.client.post("/api/v1/inbound/mailgun", content=body, headers=form)
    assert response.status_code == 403  # read whole, and its signature refused


@pytest.mark.parametrize("opening", [b"[", b"  \r\n\t[", b"1", b'"{'])
def test_what_cannot_be_an_sns_message_is_refused_at_its_first_byte(
    web: Web, opening: bytes
) -> None:
    body = opening + b"{}," * (19 * MB // 3) + b"{}]"
    headers = [("content-type", "text/plain; charset=UTF-8")]
    answer = call(web.app, "POST", "/api/v1/inbound/ses", headers=headers, chunks=_chunks(body))
    assert answer.status == 400, answer
    assert answer.received <= 64 * 1024  # the first chunk, not the 19 MB


@pytest.mark.parametrize("path", ["/api/v1/inbound/ses", "/api/v1/inbound/mailgun"])
def test_json_with_more_values_than_an_event_has_is_refused_unparsed(
    web: Web, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``{},`` is 3 bytes and a dict about 64: under the byte limit, a body of them is
    still refused before the parser builds any."""
    parsed: list[bytes] = []
    real_loads = json.loads
    monkeypatch.setattr(json, "loads", lambda s, **kw: parsed.append(s) or real_loads(s, **kw))
    body = b'{"Type": [' + b"{}," * 300_000 + b"{}]}"
    response = web.client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text
    assert not parsed


def test_the_token_count_skips_strings_and_stops_at_its_limit() -> None:
    assert count_tokens(b'{"a": "{[,,]}", "b": [1, 2, {"c": "\\"{"}]}', 100) == 11
    assert count_tokens(b"[" + b"1," * 99 + b"1]", 100) == 100
    with pytest.raises(TooLarge):
        count_tokens(b"[" + b"{}," * 10_000_000 + b"{}]", 100)
    with pytest.raises(Malformed):  # a quote never closed: no parser takes it
        count_tokens(b'["a", "b\\"]' + b'"\\"' * 10_000, 100_000)
    with pytest.raises(TooLarge):
        json_value(b"[" + b"[]," * MAX_JSON_TOKENS + b"[]]")
    assert json_object(b' {"a": [' + b"1," * 1000 + b"1]}")["a"][-1] == 1


def test_a_form_is_refused_past_its_field_count_before_it_is_split(web: Web) -> None:
    form = "application/x-www-form-urlencoded"
    with pytest.raises(TooLarge):
        parse_form(form, b"a=&" * MAX_FIELDS)
    assert len(parse_form(form, b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS)))) == MAX_FIELDS
    hostile = b"a=&" * (19 * MB // 3)
    response = web.client.post(
        "/api/v1/inbound/mailgun", content=hostile, headers={"Content-Type": form}
    )
    assert response.status_code == 413, response.text


def _multipart(fields: int, files: int) -> tuple[str, bytes]:
    parts = [
        b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(fields)
    ]
    parts += [
        b'--b\r\nContent-Disposition: form-data; name="attachment-%d"; filename="a%d.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n" % (i, i)
        for i in range(files)
    ]
    return "multipart/form-data; boundary=b", b"".join(parts) + b"--b--\r\n"


def test_multipart_counts_fields_and_attachments_apart() -> None:
    fields = parse_form(*_multipart(MAX_FIELDS, MAX_FILES))
    assert len(fields) == MAX_FIELDS + MAX_FILES
    for too_many in (_multipart(MAX_FIELDS + 1, 0), _multipart(0, MAX_FILES + 1)):
        with pytest.raises(TooLarge):
            parse_form(*too_many)


@pytest.mark.parametrize("path", ["/api/v1/inbound/raw", "/api/v1/inbound/generic"])
def test_our_signed_webhooks_refuse_what_their_headers_give_away_unread(
    web: Web, path: str
) -> None:
    now = int(START.timestamp())
    good = cadence_signature(SECRET, b"", now)
    stale = cadence_signature(SECRET, b"", now - 3600)
    cases = [
        ([], 401),
        ([("x-cadence-signature", good["X-Cadence-Signature"])], 401),
        ([("x-cadence-timestamp", str(now))], 401),
        ([("x-cadence-signature", "sha1=abc"), ("x-cadence-timestamp", str(now))], 401),
        ([(k.lower(), v) for k, v in stale.items()], 403),
        ([("x-cadence-signature", good["X-Cadence-Signature"]), ("x-cadence-timestamp", "x")], 403),
    ]
    for headers, status in cases:
        length = [("content-length", str(19 * MB)), *headers]
        answer = call(web.app, "POST", path, headers=length, chunks=_slow_body(19 * MB))
        assert (answer.status, answer.received) == (status, 0), headers
        assert answer.headers.get("connection") == "close"
    # Fresh and well formed: the body is read, and the signature over it refused.
    fresh = [(k.lower(), v) for k, v in good.items()]
    answer = call(web.app, "POST", path, headers=fresh, chunks=[b"{}"])
    assert (answer.status, answer.received) == (403, 2)
    web.ctx.settings = web.ctx.settings.model_copy(update={"inbound_hmac_secret": None})
    answer = call(web.app, "POST", path, headers=fresh, chunks=_slow_body(19 * MB))
    assert (answer.status, answer.received) == (403, 0)


def test_a_generic_event_is_small(web: Web) -> None:
    body = b'{"kind": "reply", "email": "' + b"a" * GENERIC_MAX_BYTES + b'@x.example"}'
    signed = cadence_signature(SECRET, body, int(START.timestamp()))
    response = web.client.post("/api/v1/inbound/generic", content=body, headers=signed)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("path", "setting", "content_type"),
    [
        ("/api/v1/inbound/ses", "ses_topic_arns", "text/plain"),
        ("/api/v1/inbound/mailgun", "mailgun_signing_key", "application/json"),
        ("/api/v1/inbound/mailgun", "mailgun_signing_key", "application/x-www-form-urlencoded"),
    ],
)
def test_an_unconfigured_provider_is_refused_unread(
    web: Web, path: str, setting: str, content_type: str
) -> None:
    web.ctx.settings = web.ctx.settings.model_copy(update={setting: None})
    headers = [("content-type", content_type)]
    answer = call(web.app, "POST", path, headers=headers, chunks=_slow_body(19 * MB))
    assert (answer.status, answer.received) == (403, 0)


def test_a_sendgrid_batch_of_thousands_of_events_is_parsed(web: Web) -> None:
    """Behind Basic auth, a real batch's values are well within its bound."""
    event = {
        "email": "nobody@example.com",
        "timestamp": int(START.timestamp()),
        "event": "delivered",
        "sg_event_id": "id",
        "sg_message_id": "m",
        "smtp-id": "<m@x>",
        "category": ["a", "b"],
        "response": "250 OK",
    }
    batch = json.dumps([{**event, "sg_event_id": f"id{i}"} for i in range(5000)]).encode()
    assert count_tokens(batch, 10**9) > MAX_JSON_TOKENS
    basic = base64.b64encode(f"{BASIC[0]}:{BASIC[1]}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {basic}"}
    response = web.client.post("/api/v1/inbound/sendgrid", content=batch, headers=headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["events"]) == 5000

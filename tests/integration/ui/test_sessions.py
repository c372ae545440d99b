"""The pages' sessions and forms against hostile browsers: the cookie is a server-side
session (never the API token) that sign-out revokes, every form POST must come from our own
origin (sign-in too), and every response of the web process carries the security headers."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import func, select

from cadence.api.app import create_app
from cadence.core.clock import SimulatedClock
from cadence.inbound.providers import recording
from cadence.runtime.context import AppContext
from cadence.store.api_users import Role, add_user
from cadence.store.database import transaction
from cadence.store.models import PageSession, Prospect, User
from cadence.web.headers import SECURITY_HEADERS
from cadence.web.security import SESSION_COOKIE
from tests.integration.conftest import START
from tests.integration.engine.test_engine import _setup

pytestmark = pytest.mark.integration

ORIGIN = "https://testserver"
PUBLIC = "https://cadence.test"  # make_context's CADENCE_PUBLIC_URL


@dataclass
class Site:
    ctx: AppContext
    clock: SimulatedClock
    tokens: dict[str, str]

    def browser(self, origin: str | None = ORIGIN, base_url: str = ORIGIN) -> TestClient:
        headers = {"Origin": origin} if origin else {}
        return TestClient(create_app(self.ctx), base_url=base_url, headers=headers)

    def sign_in(self, client: TestClient, user: str = "morgan") -> str:
        response = client.post(
            "/ui/signin", data={"token": self.tokens[user]}, follow_redirects=False
        )
        assert response.status_code == 303, response.text
        return str(response.cookies[SESSION_COOKIE])

    def sessions(self) -> int:
        with transaction(self.ctx.engine) as session:
            return session.exec(select(func.count()).select_from(PageSession)).one()


@pytest.fixture
def site(make_context: Callable[..., AppContext], tmp_path: Path) -> Site:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    with transaction(ctx.engine) as session:
        tokens = {
            name: add_user(session, name, role, now=START, actor="test")
            for name, role in (("morgan", Role.MANAGER), ("root", Role.ADMIN))
        }
    return Site(ctx, clock, tokens)


def _signed_out(client: TestClient, cookie: str) -> bool:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie, path="/ui")
    response = client.get("/ui/", follow_redirects=False)
    return (response.status_code, response.headers.get("location")) == (303, "/ui/signin")


def test_the_cookie_is_a_session_of_its_own_stored_only_as_a_hash(site: Site) -> None:
    client = site.browser()
    cookie = site.sign_in(client)
    assert cookie.startswith("cads_") and cookie != site.tokens["morgan"]
    assert client.get("/ui/").status_code == 200
    with site.ctx.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM pagesession")).mappings().all()
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert len(rows) == 1 and cookie not in stored and cookie[5:21] not in stored
    # The cookie is no API token, and the API token is no cookie.
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {cookie}"}).status_code == 401
    )
    assert _signed_out(site.browser(), site.tokens["morgan"])


def test_sign_out_revokes_the_session_for_every_copy_of_the_cookie(site: Site) -> None:
    client = site.browser()
    cookie = site.sign_in(client)
    copy = site.browser()
    copy.cookies.set(SESSION_COOKIE, cookie, path="/ui")
    assert copy.get("/ui/", follow_redirects=False).status_code == 200
    out = client.post("/ui/signout", follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/ui/signin")
    assert site.sessions() == 0
    assert _signed_out(copy, cookie)  # the stolen copy died with the session
    assert client.post("/ui/signout", follow_redirects=False).status_code == 303  # twice: fine


def test_a_session_ends_when_it_expires_or_its_user_is_disabled(site: Site) -> None:
    client = site.browser()
    cookie = site.sign_in(client)
    ends = START + timedelta(hours=site.ctx.settings.session_hours)
    site.clock.advance_to(ends - timedelta(seconds=1))
    assert not _signed_out(client, cookie)
    site.clock.advance_to(ends)
    assert _signed_out(client, cookie)

    cookie = site.sign_in(client, "root")
    assert site.sessions() == 1  # the expired one was cleared on the way
    with transaction(site.ctx.engine) as session:
        user = session.exec(select(User).where(User.name == "root")).one()
        user.disabled = True
    assert _signed_out(client, cookie)


def test_signing_in_revokes_a_session_the_browser_already_held(site: Site) -> None:
    """A session id planted in the victim's browser is never the one they sign in with."""
    planted = site.sign_in(site.browser(), "root")
    victim = site.browser()
    victim.cookies.set(SESSION_COOKIE, planted, path="/ui")
    mine = site.sign_in(victim, "morgan")
    assert mine != planted
    assert _signed_out(site.browser(), planted)
    assert not _signed_out(site.browser(), mine)


def test_the_cookie_is_secure_whatever_scheme_the_process_sees(site: Site) -> None:
    """Behind a TLS proxy the process sees http; the cookie must still be Secure."""
    plain = site.browser(origin="http://testserver", base_url="http://testserver")
    signed = plain.post("/ui/signin", data={"token": site.tokens["morgan"]}, follow_redirects=False)
    cookie = signed.headers["set-cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    site.ctx.settings = site.ctx.settings.model_copy(update={"secure_cookies": False})
    plain = site.browser(origin="http://testserver", base_url="http://testserver")
    signed = plain.post("/ui/signin", data={"token": site.tokens["morgan"]}, follow_redirects=False)
    assert "Secure" not in signed.headers["set-cookie"]


HOSTILE_ORIGINS = [
    "https://evil.example",
    "null",
    "",
    "http://testserver",  # our host, downgraded to plain HTTP
    "https://testserver:8443",
    "https://testserver.evil.example",
    "https://evil.example/https://testserver",
    "https://user@testserver.evil.example",
    "file://",
    "https://cadence.test.evil.example",
]


@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
def test_form_posts_from_another_origin_are_refused(site: Site, origin: str) -> None:
    good = site.browser()
    cookie = site.sign_in(good)
    hostile = site.browser(origin=origin)
    hostile.cookies.set(SESSION_COOKIE, cookie, path="/ui")  # the browser sends it along
    signin = hostile.post("/ui/signin", data={"token": site.tokens["root"]})
    assert signin.status_code == 403, origin
    assert SESSION_COOKIE not in signin.headers.get("set-cookie", "")
    assert hostile.post("/ui/signout", follow_redirects=False).status_code == 403
    assert site.sessions() == 1  # no session made, none revoked
    assert not _signed_out(good, cookie)


def test_a_post_without_origin_needs_the_browsers_same_origin_mark(site: Site) -> None:
    bare = site.browser(origin=None)
    token = {"token": site.tokens["morgan"]}
    assert bare.post("/ui/signin", data=token).status_code == 403
    for mark in ("cross-site", "same-site", "none"):
        headers = {"Sec-Fetch-Site": mark}
        assert bare.post("/ui/signin", data=token, headers=headers).status_code == 403, mark
    same = bare.post(
        "/ui/signin", data=token, headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False
    )
    assert same.status_code == 303


def test_the_public_url_is_our_origin_behind_a_proxy(site: Site) -> None:
    """The proxy forwards to http://testserver, the browser is on CADENCE_PUBLIC_URL."""
    behind = site.browser(origin=PUBLIC, base_url="http://testserver")
    assert site.sign_in(behind)
    assert (
        site.browser(origin=PUBLIC.replace("https", "http"))
        .post("/ui/signin", data={"token": site.tokens["morgan"]})
        .status_code
        == 403
    )


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    origin=st.one_of(
        st.text(max_size=60),
        st.builds(
            lambda scheme, host, port: f"{scheme}://{host}{port}",
            st.sampled_from(["http", "https", "HTTPS", "ftp", "javascript", ""]),
            st.from_regex(r"[a-zA-Z0-9.\-@\[\]:]{0,30}", fullmatch=True),
            st.sampled_from(["", ":443", ":80", ":0", ":99999", ":abc"]),
        ),
    )
)
def test_no_other_origin_signs_in(site: Site, origin: str) -> None:
    if re.fullmatch(r"(?i)https://(testserver|cadence\.test)(:443)?", origin):
        return  # ours: accepted, and rightly
    if not (origin.isascii() and origin.isprintable()):
        return  # not a header value an HTTP client sends
    client = site.browser(origin=origin)
    response = client.post("/ui/signin", data={"token": site.tokens["morgan"]})
    assert response.status_code == 403, origin
    assert site.sessions() == 0


def _assert_secured(response: object, what: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (what, name, headers.get(name))


def test_every_response_carries_the_security_headers(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = site.browser()
    with transaction(site.ctx.engine) as session:
        link = session.exec(select(Prospect.unsubscribe_token)).first()
    before_sign_in = {
        "unsubscribe page": client.get(f"/unsubscribe/{link}"),
        "unsubscribed": client.post(f"/unsubscribe/{link}"),
        "unknown unsubscribe link": client.get("/unsubscribe/0123456789abcdef0123"),
        "API without token": client.get("/api/v1/me"),
        "page without session": client.get("/ui/report", follow_redirects=False),
        "sign-in form": client.get("/ui/signin"),
        "cross-origin form": site.browser("https://evil.example").post("/ui/signin"),
        "schema": client.get("/openapi.json"),
        "health": client.get("/healthz"),
        "not found": client.get("/nowhere"),
        "too large": client.post("/healthz", content=b"x" * (2 * 1024 * 1024)),
        "webhook refused": client.post("/api/v1/inbound/raw", content=b"x"),
    }
    site.sign_in(client)
    api = {"Authorization": f"Bearer {site.tokens['root']}"}
    signed_in = {
        "page": client.get("/ui/"),
        "JSON 404 under /ui": client.get("/ui/no-such-page"),
        "page 404": client.get("/ui/prospects/999999"),
        "page 422": client.get("/ui/activity?since=yesterday"),
        "405 under /ui": client.put("/ui/"),
        "API 200": client.get("/api/v1/prospects", headers=api),
        "API 404": client.get("/api/v1/touches/999999", headers=api),
        "API 422": client.get("/api/v1/touches?limit=0", headers=api),
        "API CSV": client.get("/api/v1/audit?format=csv", headers=api),
    }
    assert signed_in["JSON 404 under /ui"].headers["content-type"] == "application/json"

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the store went away")

    monkeypatch.setattr(recording, "process_inbound", broken)
    failing = TestClient(create_app(site.ctx), raise_server_exceptions=False)
    secret = "s"
    site.ctx.settings = site.ctx.settings.model_copy(update={"inbound_hmac_secret": secret})
    from cadence.inbound.providers.signing import cadence_signature

    body = b"From: a@b.example\r\n\r\nhi\r\n"
    headers = cadence_signature(secret, body, int(site.clock.now().timestamp()))
    error = failing.post("/api/v1/inbound/raw", content=body, headers=headers)
    assert error.status_code == 500
    for what, response in {**before_sign_in, **signed_in, "500": error}.items():
        _assert_secured(response, what)

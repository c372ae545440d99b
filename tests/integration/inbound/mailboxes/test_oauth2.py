"""XOAUTH2 sign-in on a real Dovecot whose oauth2 passdb asks a provider's introspection
endpoint about each token: a fresh token from the refresh token at each sign-in, and a
revoked grant marking the mailbox unhealthy with what to do."""

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from cadence.inbound.mailboxes import Intake
from cadence.inbound.mailboxes.checks import check_mailbox
from cadence.store.database import transaction
from cadence.store.mailbox_health import mailbox_states
from tests.integration.smtp_sink import SinkHandler, free_port

from .conftest import World
from .dovecot import Dovecot, running_dovecot
from .oauth_provider import Provider, oauth_provider

pytestmark = pytest.mark.integration

CLIENT_ID_ENV, REFRESH_ENV = "CADENCE_MAILBOX_ALEX_CLIENT_ID", "CADENCE_MAILBOX_ALEX_REFRESH"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with oauth_provider() as made:
        yield made


@pytest.fixture
def dovecot(provider: Provider) -> Iterator[Dovecot]:
    """A Dovecot that takes XOAUTH2 logins, checked by this test's provider."""
    with running_dovecot(introspection_url=f"{provider.url}/introspect") as server:
        yield server


@pytest.fixture
def oauth2_secret(provider: Provider, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    def secret(user: str) -> str:
        monkeypatch.setenv(CLIENT_ID_ENV, "cadence-test-client")
        monkeypatch.setenv(REFRESH_ENV, provider.grant("cadence-test-client", user))
        return (
            f'oauth2 = {{ provider = "generic", client_id_env = "{CLIENT_ID_ENV}", '
            f'refresh_token_env = "{REFRESH_ENV}", token_url = "{provider.url}/token" }}'
        )

    return secret


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_oauth2_mailbox_signs_in_with_a_fresh_token_each_time(
    make_world: Callable[..., World], provider: Provider, oauth2_secret: Callable[[str], str]
) -> None:
    world = make_world(secret=oauth2_secret)
    world.append(world.reply("ann@acme.example"))

    done = world.sync()
    world.sync()

    assert done.error is None and done.folders[0].intake == {Intake.STORED: 1}
    assert world.state("ann@acme.example") == "halted"
    assert len(provider.issued) == 2 and provider.introspected >= 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_revoked_grant_marks_the_mailbox_unhealthy_naming_the_variable(
    make_world: Callable[..., World],
    provider: Provider,
    oauth2_secret: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(secret=oauth2_secret)
    revoked = provider.grants.popitem()[0]

    done = world.sync()

    assert done.error is not None and REFRESH_ENV in done.error and revoked not in done.error
    with transaction(world.ctx.engine) as session:
        state = mailbox_states(session)["alex"]
    assert state.health == "authentication"
    assert state.reason is not None and "invalid_grant" in state.reason
    monkeypatch.setenv(REFRESH_ENV, provider.grant("cadence-test-client", world.user))
    assert world.sync().error is None
    with transaction(world.ctx.engine) as session:
        assert mailbox_states(session)["alex"].health == "ok"


class XOAuth2Sink(SinkHandler):
    """An SMTP server that takes XOAUTH2 with the provider's access tokens."""

    provider: Provider

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        sent = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        fields = dict(part.split("=", 1) for part in sent.split("\x01") if "=" in part)
        token = fields.get("auth", "").removeprefix("Bearer ")
        ok = token in self.provider.issued and self.provider.issued[token] == fields.get("user")
        return AuthResult(success=ok, handled=False)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_check_signs_in_to_imap_and_smtp_with_xoauth2(
    make_world: Callable[..., World], provider: Provider, oauth2_secret: Callable[[str], str]
) -> None:
    handler = XOAuth2Sink()
    handler.provider = provider
    port = free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port, auth_require_tls=False)
    smtp.start()
    try:
        world = make_world(secret=oauth2_secret, smtp_url=f"smtp://who@127.0.0.1:{port}")
        good = check_mailbox(world.ctx, world.sdr, actor="test")
        provider.grants.clear()
        revoked = check_mailbox(world.ctx, world.sdr, actor="test")
    finally:
        smtp.stop()

    assert (good.passed, good.problems) == (["IMAP: login, INBOX", "SMTP: login"], [])
    assert len(revoked.problems) == 2
    assert all("invalid_grant" in p and REFRESH_ENV in p for p in revoked.problems)
    with transaction(world.ctx.engine) as session:
        assert mailbox_states(session)["alex"].health == "authentication"

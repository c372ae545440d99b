"""XOAUTH2 sign-in on a real Dovecot whose oauth2 passdb asks a provider's introspection
endpoint about each token: a fresh token from the refresh token at each sign-in, and a
revoked grant marking the mailbox unhealthy with what to do."""

from collections.abc import Callable, Iterator

import pytest

from cadence.inbound.mailboxes import Intake
from cadence.store.database import transaction
from cadence.store.mailbox_health import mailbox_states

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

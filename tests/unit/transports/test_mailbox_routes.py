"""Which SDRs send through their own mailbox, and the router's choices that need no server:
the team transport for an SDR without one, a clear stop for a mailbox that cannot send, and
no routing at all on simulated time."""

import shutil
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from cadence.authoring.config_files import load_team
from cadence.core.clock import SimulatedClock, SystemClock
from cadence.core.errors import ConfigurationError, MailboxUnavailable
from cadence.runtime.context import build_context
from cadence.runtime.mailbox_routes import OAUTH2_UNSUPPORTED, mailbox_routes
from cadence.runtime.settings import load_settings
from cadence.runtime.shipped_files import shipped_root
from cadence.transports import FileOutbox, MailboxRouter

TEAM = """default_owner = "alex"

[company]
name = "Brightwave"
domain = "brightwave.example"
postal_address = "Brightwave Inc., 500 Market Street, San Francisco, CA 94105, USA"

[[sdr]]
name = "alex"
full_name = "Alex Morgan"
email = "Alex@Brightwave.example"
[sdr.mailbox]
smtp = "smtp://alex%40brightwave.example@smtp.brightwave.example:587?starttls=1"
password_env = "CADENCE_MAILBOX_ALEX_PASSWORD"

[[sdr]]
name = "priya"
full_name = "Priya Raman"
email = "priya@brightwave.example"
[sdr.mailbox]
imap = "imaps://priya%40brightwave.example@imap.brightwave.example"
password_env = "CADENCE_MAILBOX_PRIYA_PASSWORD"

[[sdr]]
name = "jonas"
full_name = "Jonas Becker"
email = "jonas@brightwave.example"
[sdr.mailbox]
smtp = "smtps://jonas%40brightwave.example@smtp.gmail.example"
oauth2 = { provider = "google", client_id_env = "GID", refresh_token_env = "GRT" }

[[sdr]]
name = "kim"
full_name = "Kim Lee"
email = "kim@brightwave.example"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copytree(shipped_root() / "config", tmp_path / "config")
    (tmp_path / "config" / "team.toml").write_text(TEAM, encoding="utf-8")
    return tmp_path / "config"


def test_only_mailboxes_with_smtp_route_and_oauth2_ones_say_why_not(config: Path) -> None:
    routes = {route.owner: route for route in mailbox_routes(load_team(config))}
    assert sorted(routes) == ["alex", "jonas"]  # priya reads only; kim has no mailbox
    alex = routes["alex"]
    assert (alex.address, alex.settings.host, alex.settings.port) == (
        "Alex@brightwave.example",
        "smtp.brightwave.example",
        587,
    )
    assert (alex.settings.username, alex.settings.password) == ("alex@brightwave.example", None)
    assert alex.settings.starttls and alex.unsupported is None
    assert alex.secret_name == "CADENCE_MAILBOX_ALEX_PASSWORD"
    assert routes["jonas"].settings.implicit_tls
    assert routes["jonas"].unsupported == OAUTH2_UNSUPPORTED


def _message(sender: str, touch: int = 1) -> EmailMessage:
    message = EmailMessage()
    message["X-Cadence-Touch"] = str(touch)
    message["From"] = sender
    message["To"] = "ann@acme.example"
    message["Message-ID"] = "<1@brightwave.example>"
    message["Subject"] = "hello"
    message.set_content("hi")
    return message


def test_the_router_sends_without_a_mailbox_through_the_team_and_stops_one_that_cannot(
    config: Path, tmp_path: Path
) -> None:
    router = MailboxRouter(FileOutbox(str(tmp_path / "outbox")), mailbox_routes(load_team(config)))
    assert router.mailboxes == ["alex", "jonas"]
    router.send(_message("Kim Lee <kim@brightwave.example>"))
    router.send(_message("Priya Raman <priya@brightwave.example>", 2))
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
    with pytest.raises(MailboxUnavailable) as raised:
        router.send(_message("Jonas Becker <JONAS@brightwave.example>"))
    assert (raised.value.mailbox, raised.value.health) == ("jonas", "authentication")
    assert "oauth2 is not supported yet" in str(raised.value)
    router.close()


def _settings(config: Path, tmp_path: Path, public_url: str) -> object:
    return load_settings(
        database_url=f"sqlite:///{tmp_path / 'c.db'}",
        config_dir=config,
        templates_dir=shipped_root() / "templates",
        outbox_dir=tmp_path / "outbox",
        public_url=public_url,
    )


def test_real_time_routes_through_the_mailboxes_and_simulated_time_never(
    config: Path, tmp_path: Path
) -> None:
    settings = _settings(config, tmp_path, "https://cadence.example")
    real = build_context(settings, clock=SystemClock())  # type: ignore[arg-type]
    simulated = build_context(
        settings,  # type: ignore[arg-type]
        clock=SimulatedClock(datetime(2026, 11, 23, tzinfo=UTC)),
    )
    try:
        assert isinstance(real.transport, MailboxRouter)
        assert isinstance(simulated.transport, FileOutbox)
    finally:
        real.close()
        simulated.close()


def test_a_mailbox_that_sends_needs_a_public_unsubscribe_link(config: Path, tmp_path: Path) -> None:
    settings = _settings(config, tmp_path, "http://localhost:8000")
    with pytest.raises(ConfigurationError, match="an SDR mailbox sends real email"):
        build_context(settings, clock=SystemClock())  # type: ignore[arg-type]


def test_two_sdrs_sharing_a_mailboxs_address_are_refused(config: Path) -> None:
    text = (config / "team.toml").read_text(encoding="utf-8")
    text += '\n[[sdr]]\nname = "al"\nfull_name = "Al Morgan"\nemail = "alex@brightwave.example"\n'
    (config / "team.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="alex and al share the address"):
        mailbox_routes(load_team(config))

"""A team for the mailbox tests: alex and priya send through their own mailbox servers (see
:mod:`.mailbox_servers`), jonas through the team transport (the outbox), on a store with a
simulated clock, and the helpers the tests share."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cadence.core.clock import SimulatedClock
from cadence.runtime.context import AppContext
from cadence.runtime.mailbox_routes import mailbox_routes
from cadence.sequences.enrollment import enroll_prospects
from cadence.store.database import transaction
from cadence.store.models import MailboxState
from cadence.transports import MailboxRouter

from .batch_setup import berlins, config_with, import_rows
from .conftest import START
from .mailbox_servers import MailboxServer, mailbox_server, password_env, team_toml

ALEX_PASSWORD = "alex-app-password-4711"
PRIYA_PASSWORD = "priya-app-password-0815"


@dataclass
class Team:
    ctx: AppContext
    clock: SimulatedClock
    alex: MailboxServer
    priya: MailboxServer
    outbox: Path


@contextmanager
def mailbox_team(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Team]:
    with (
        mailbox_server("alex@brightwave.example", ALEX_PASSWORD) as alex,
        mailbox_server("priya@brightwave.example", PRIYA_PASSWORD) as priya,
    ):
        ports = {"alex": alex.port, "priya": priya.port, "jonas": None}
        clock = SimulatedClock(START)
        ctx = routed(make_context, clock, team_config(tmp_path, ports, monkeypatch))
        yield Team(ctx, clock, alex, priya, tmp_path / "outbox")


@pytest.fixture(name="team")
def team_fixture(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Team]:
    """alex and priya send through their own mailboxes; jonas through the team's outbox."""
    with mailbox_team(make_context, tmp_path, monkeypatch) as made:
        yield made


def team_config(
    tmp_path: Path, ports: dict[str, int | None], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The shipped config with a team.toml whose SDRs with a port send through it, each
    with the right password in the environment."""
    config = config_with(tmp_path)
    (config / "team.toml").write_text(team_toml(ports), encoding="utf-8")
    passwords = {"alex": ALEX_PASSWORD, "priya": PRIYA_PASSWORD}
    for name, port in ports.items():
        if port is not None:
            monkeypatch.setenv(password_env(name), passwords[name])
    return config


def routed(
    make_context: Callable[..., AppContext], clock: SimulatedClock, config: Path
) -> AppContext:
    """A context whose transport routes through the SDRs' mailboxes as on real time (a
    simulated clock's context never sends through them)."""
    ctx = make_context(clock=clock, config_dir=config)
    assert not isinstance(ctx.transport, MailboxRouter)
    ctx.transport = MailboxRouter(ctx.transport, mailbox_routes(ctx.catalog.team))
    return ctx


def enroll(team: Team, tmp_path: Path, owner: str, *emails: str) -> None:
    import_rows(team.ctx, tmp_path, berlins(*emails), owner=owner)
    result = enroll_prospects(team.ctx, list(emails), "seven-touch", owner=None, actor="test")
    assert len(result.enrolled) == len(emails)


def health(ctx: AppContext, owner: str) -> MailboxState | None:
    with transaction(ctx.engine) as session:
        state = session.get(MailboxState, owner)
        if state is not None:
            session.expunge(state)
    return state

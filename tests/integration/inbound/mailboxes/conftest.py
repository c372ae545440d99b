"""A private Dovecot on loopback, and a store whose SDR alex has a mailbox on it with the
first touches of three prospects sent. Dovecot missing fails the run: never skipped."""

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from sqlmodel import col, select

from cadence.core.clock import SimulatedClock
from cadence.inbound.mailboxes import MailboxPass, SdrMailbox, process_holder, sdr_mailboxes
from cadence.inbound.mailboxes.service import sync_once
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Event, Prospect, Touch
from tests.integration.conftest import REPO, START
from tests.integration.engine.test_engine import _setup
from workers.embedded import EmbeddedEngine

from .dovecot import Dovecot, running_dovecot

ALEX = "alex@brightwave.example"
PASSWORD_ENV = "CADENCE_MAILBOX_ALEX_PASSWORD"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@dataclass
class World:
    """The store, the clock and alex's IMAP account, with what the tests ask of them."""

    ctx: AppContext
    clock: SimulatedClock
    dovecot: Dovecot
    user: str
    password: str
    #: Each prospect's first touch, by email.
    touches: dict[str, Touch]
    config_dir: Path

    def cli_env(self, **extra: str) -> dict[str, str]:
        """The environment a ``cadence`` subprocess needs to see this world."""
        return {
            "CADENCE_DATABASE_URL": self.ctx.settings.database_url,
            "CADENCE_CONFIG_DIR": str(self.config_dir),
            # A mailbox that sends needs a public address for its unsubscribe links.
            "CADENCE_PUBLIC_URL": "https://cadence.test.example",
            PASSWORD_ENV: self.password,
            **extra,
        }

    @property
    def sdr(self) -> SdrMailbox:
        return sdr_mailboxes(self.ctx.catalog.team, ["alex"])[0]

    def imap(self) -> IMAPClient:
        return self.dovecot.client(self.user, self.password)

    def append(self, raw: bytes, folder: str = "INBOX", at: datetime | None = None) -> None:
        client = self.imap()
        try:
            if folder != "INBOX" and not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw, msg_time=at or self.clock.now())
        finally:
            client.logout()

    def sync(self, holder: str | None = None) -> MailboxPass:
        passes = sync_once(self.ctx, [self.sdr], holder=holder or process_holder())
        assert len(passes) == 1
        return passes[0]

    def events(self) -> list[Event]:
        with transaction(self.ctx.engine) as session:
            return list(session.exec(select(Event).order_by(col(Event.id))))

    def state(self, email: str) -> str:
        with transaction(self.ctx.engine) as session:
            return session.exec(
                select(Enrollment.state)
                .join(Prospect, col(Prospect.id) == col(Enrollment.prospect_id))
                .where(Prospect.email == email, Enrollment.cadence == "seven-touch")
            ).one()

    def reply(self, email: str, body: str = "Sounds good, call me Thursday.", **kw: str) -> bytes:
        touch = self.touches[email]
        return message(
            sender=kw.get("sender", email),
            subject=f"Re: {touch.subject}",
            message_id=kw.get("message_id", f"<reply.{touch.id}.{len(body)}@mail.example>"),
            in_reply_to=touch.message_id,
            body=body,
            extra=kw.get("extra", ""),
        )


def message(
    *,
    sender: str,
    subject: str,
    message_id: str,
    body: str,
    in_reply_to: str | None = None,
    to: str = ALEX,
    extra: str = "",
) -> bytes:
    thread = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else ""
    return (
        f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        f"{thread}{extra}Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def team_with_mailbox(
    config_dir: Path,
    imap_url: str,
    folders: list[str],
    smtp_url: str | None = None,
    secret: str = f'password_env = "{PASSWORD_ENV}"',
) -> None:
    """The repository's config with alex given a mailbox that reads (imap) and, with
    ``smtp_url``, sends; ``secret`` is the line that says how it signs in."""
    shutil.copytree(REPO / "config", config_dir)
    team = config_dir / "team.toml"
    text = team.read_text()
    head, sep, rest = text.partition('[[sdr]]\nname = "priya"')
    quoted = ", ".join(f'"{f}"' for f in folders)
    section = (
        f'[sdr.mailbox]\nimap = "{imap_url}"\n{secret}\n'
        + (f'smtp = "{smtp_url}"\n' if smtp_url else "")
        + f"folders = [{quoted}]\n\n"
    )
    assert sep, "config/team.toml no longer has priya after alex"
    team.write_text(head + section + sep + rest)


@pytest.fixture
def make_world(
    make_context: Callable[..., AppContext],
    dovecot: Dovecot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., World]:
    """A world whose alex reads ``folders`` of a fresh Dovecot account; ``settings`` are the
    mailbox settings to change (``mailbox_lease_seconds=…``)."""

    def make(
        folders: tuple[str, ...] = ("INBOX",),
        *,
        password: str | None = None,
        smtp_url: str | None = None,
        secret: Callable[[str], str] | None = None,
        **settings: object,
    ) -> World:
        user, password = dovecot.add_user(password)
        monkeypatch.setenv(PASSWORD_ENV, password)
        config_dir = tmp_path / "config"
        imap_url = f"imap://{user}@127.0.0.1:{dovecot.port}"
        lines = [secret(user)] if secret is not None else []
        team_with_mailbox(config_dir, imap_url, list(folders), smtp_url, *lines)
        clock = SimulatedClock(START)
        ctx = make_context(clock=clock, config_dir=config_dir)
        unknown = set(settings) - set(type(ctx.settings).model_fields)
        assert not unknown, f"no such settings: {unknown}"
        ctx.settings = ctx.settings.model_copy(update=settings)
        _setup(ctx, tmp_path)
        with EmbeddedEngine(ctx, worker_threads=2) as engine:
            engine.simulate(clock, START + timedelta(days=2))
        with transaction(ctx.engine) as session:
            rows = session.exec(
                select(Prospect.email, Touch)
                .join(Touch, col(Touch.prospect_id) == col(Prospect.id))
                .where(Touch.status == "sent", Touch.step == 1)
            ).all()
        touches = {email: touch for email, touch in rows}
        assert len(touches) == 3
        return World(ctx, clock, dovecot, user, password, touches, config_dir)

    return make

"""SDR mailboxes for the sending tests: one real SMTP server on loopback per SDR (aiosmtpd,
AUTH PLAIN and LOGIN required), each taking one login and password and recording which login
sent what, and a team.toml whose SDRs send through them."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from .smtp_sink import Received, SinkHandler, free_port


@dataclass
class MailboxServer(SinkHandler):
    """An SDR's provider: accepts one login with one password."""

    login: str = ""
    password: str = ""
    port: int = 0
    #: (login, mechanism, accepted) for every AUTH attempt.
    attempts: list[tuple[str, str, bool]] = field(default_factory=list)
    #: The login each accepted message was sent with, in order.
    senders: list[str] = field(default_factory=list)
    #: When set, every AUTH is answered with this instead (e.g. a temporary 454).
    auth_answer: str | None = None

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        login = auth_data.login.decode()
        ok = login == self.login and auth_data.password.decode() == self.password
        ok = ok and self.auth_answer is None
        self.attempts.append((login, mechanism, ok))
        return AuthResult(success=ok, handled=False, message=self.auth_answer, auth_data=auth_data)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.senders.append(session.auth_data.login.decode())
        return await super().handle_DATA(server, session, envelope)

    @property
    def messages(self) -> list[Received]:
        return list(self.received)


@contextmanager
def mailbox_server(
    login: str, password: str, *, without: tuple[str, ...] = ()
) -> Iterator[MailboxServer]:
    """The server, offering AUTH PLAIN and LOGIN but the mechanisms named in ``without``."""
    handler = MailboxServer(login=login, password=password, port=free_port())
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=handler.port,
        auth_require_tls=False,  # loopback only, as the mailbox config allows
        auth_required=True,
        authenticator=handler.authenticate,
        auth_exclude_mechanism=without,
    )
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


TEAM_HEAD = """default_owner = "alex"
default_timezone = "America/New_York"

[company]
name = "Brightwave"
domain = "brightwave.example"
postal_address = "Brightwave Inc., 500 Market Street, San Francisco, CA 94105, USA"
"""


def team_toml(mailboxes: dict[str, int | None]) -> str:
    """SDRs alex, priya and jonas; those given a port send through a mailbox server on it,
    logging in as their address with the password in CADENCE_MAILBOX_<NAME>_PASSWORD."""
    parts = [TEAM_HEAD]
    for name, port in mailboxes.items():
        parts.append(
            f'[[sdr]]\nname = "{name}"\nfull_name = "{name.capitalize()} Test"\n'
            f'email = "{name}@brightwave.example"\n'
        )
        if port is not None:
            parts.append(
                "[sdr.mailbox]\n"
                f'smtp = "smtp://{name}%40brightwave.example@127.0.0.1:{port}?timeout=5"\n'
                f'password_env = "{password_env(name)}"\n'
            )
    return "\n".join(parts)


def password_env(name: str) -> str:
    return f"CADENCE_MAILBOX_{name.upper()}_PASSWORD"

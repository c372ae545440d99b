"""Sending through each SDR's own mailbox: a transport that picks, by a message's From
address, the SMTP connection of the mailbox it is sent as, and hands every other message to
the team transport (``CADENCE_SMTP_URL`` or the outbox).

One :class:`~cadence.transports.smtp.SmtpTransport` per mailbox, made at its first email
and kept: its connections are reused across that mailbox's emails and closed on
:meth:`MailboxRouter.close`. A login refused or a server unreachable is raised as
:class:`~cadence.core.errors.MailboxUnavailable` naming the mailbox, so only that mailbox
stops. No message here carries the password: only the variable that holds it."""

import smtplib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage

from cadence.core.errors import ConfigurationError, MailboxUnavailable, MailServerUnavailable
from cadence.transports.base import MailTransport
from cadence.transports.headers import envelope_address
from cadence.transports.smtp import SmtpSettings, SmtpTransport

AUTHENTICATION = "authentication"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class MailboxRoute:
    """One SDR mailbox that sends its owner's email."""

    #: The SDR's name in team.toml: the mailbox's name in health, caps and logs.
    owner: str
    #: The From address its emails carry (the SDR's email).
    address: str
    #: From the mailbox's ``smtp`` URL, which holds no password.
    settings: SmtpSettings
    #: Reads the app password when a connection is made; None when it cannot send.
    password: Callable[[], str] | None
    #: Where the password lives (an environment variable's name), for messages.
    secret_name: str
    #: Why this mailbox cannot send at all, if so (it is then marked, never tried).
    unsupported: str | None = None


class MailboxRouter:
    """A :class:`MailTransport` sending each message through the mailbox of its From
    address, or through ``team`` when that address has none."""

    def __init__(self, team: MailTransport, routes: Iterable[MailboxRoute]) -> None:
        self._team = team
        self._routes = {route.address.lower(): route for route in routes}
        self._transports: dict[str, SmtpTransport] = {}
        self._lock = threading.Lock()

    @property
    def mailboxes(self) -> list[str]:
        """The owners whose mail leaves through their own mailbox."""
        return sorted(route.owner for route in self._routes.values())

    def send(self, message: EmailMessage) -> None:
        route = self._routes.get(envelope_address(message, "From").lower())
        if route is None:
            self._team.send(message)
            return
        if route.unsupported is not None or route.password is None:
            raise MailboxUnavailable(
                f"{route.owner}'s mailbox cannot send: {route.unsupported}",
                mailbox=route.owner,
                health=AUTHENTICATION,
            )
        try:
            self._transport(route).send(message)
        except ConfigurationError as exc:  # the password's variable is unset
            raise MailboxUnavailable(
                f"{route.owner}'s mailbox cannot log in: {exc}",
                mailbox=route.owner,
                health=AUTHENTICATION,
            ) from exc
        except MailServerUnavailable as exc:
            raise _unavailable(route, exc) from exc

    def _transport(self, route: MailboxRoute) -> SmtpTransport:
        with self._lock:
            transport = self._transports.get(route.owner)
            if transport is None:
                transport = SmtpTransport(route.settings, password=route.password)
                self._transports[route.owner] = transport
            return transport

    def close(self) -> None:
        with self._lock:
            transports = list(self._transports.values())
        for transport in transports:
            transport.close()
        self._team.close()


def _unavailable(route: MailboxRoute, exc: MailServerUnavailable) -> MailboxUnavailable:
    """What stopped the mailbox, in words that say what to fix: the server's answer, the
    URL's host and user, and where the password lives (smtplib's errors never hold it)."""
    s = route.settings
    cause = exc.__cause__
    if isinstance(cause, smtplib.SMTPAuthenticationError):
        answer = cause.smtp_error
        text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
        if 400 <= cause.smtp_code < 500:  # e.g. 454: the server's trouble, not the password
            return MailboxUnavailable(
                f"{route.owner}'s mailbox server {s.host}:{s.port} could not check the login "
                f"for now (SMTP {cause.smtp_code} {text.strip()}); its emails wait and are "
                "tried again later",
                mailbox=route.owner,
                health=UNREACHABLE,
            )
        return MailboxUnavailable(
            f"{route.owner}'s mailbox refused the login as {s.username} "
            f"(SMTP {cause.smtp_code} {text.strip()}): check the app password in "
            f"{route.secret_name}, then run `cadence mailboxes resume {route.owner}`",
            mailbox=route.owner,
            health=AUTHENTICATION,
        )
    if isinstance(cause, smtplib.SMTPNotSupportedError):
        return MailboxUnavailable(
            f"{route.owner}'s mailbox server {s.host}:{s.port} offers no login: use its "
            "TLS port (smtps://) or starttls=1 in the mailbox's smtp URL",
            mailbox=route.owner,
            health=AUTHENTICATION,
        )
    what = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
    return MailboxUnavailable(
        f"{route.owner}'s mailbox server {s.host}:{s.port} could not be reached ({what}); "
        "its emails wait and are tried again later",
        mailbox=route.owner,
        health=UNREACHABLE,
    )

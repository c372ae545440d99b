"""Connecting to an SDR's IMAP server and signing in, with timeouts, and turning what can go
wrong into the two errors a reader acts on: the login was refused (a person must fix the
credentials) or the server could not be reached (try again later).

Error messages name the mailbox, the server and the environment variable that holds the
secret, never the secret itself.
"""

import socket
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from cadence.authoring.mailbox_config import Mailbox
from cadence.core.errors import (
    ConfigurationError,
    MailboxError,
    MailboxLoginRefused,
    MailboxUnreachable,
)
from cadence.inbound.mailboxes.oauth2_tokens import access_token

#: Errors that mean the connection is gone or never came up.
CONNECTION_ERRORS = (OSError, ssl.SSLError, socket.timeout, IMAPClientAbortError, EOFError)


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    tls: bool
    username: str

    def __str__(self) -> str:
        return f"{self.username} at {self.host}:{self.port}"


def imap_server(mailbox: Mailbox) -> ImapServer:
    """Where the mailbox's IMAP URL points: ``imaps://`` on 993, ``imap://`` (loopback) on
    143 unless the URL names a port."""
    if mailbox.imap is None:
        raise ConfigurationError("this mailbox has no imap URL: its replies come by webhook")
    parts = urlsplit(mailbox.imap)
    tls = parts.scheme == "imaps"
    return ImapServer(
        host=parts.hostname or "",
        port=parts.port or (993 if tls else 143),
        tls=tls,
        username=unquote(parts.username or ""),
    )


def open_session(
    mailbox: Mailbox, *, timeout: float, environ: Mapping[str, str] | None = None
) -> IMAPClient:
    """A connection signed in to the mailbox, with its app password or, for ``oauth2``, a
    fresh access token over XOAUTH2. Raises :class:`MailboxLoginRefused` or
    :class:`MailboxUnreachable`; the caller logs out (:func:`close_quietly`)."""
    server = imap_server(mailbox)
    if mailbox.oauth2 is not None:
        password = access_token(mailbox.oauth2, timeout=timeout, environ=environ)
        hint = (
            f"check the oauth2 grant in {mailbox.oauth2.refresh_token_env} and that IMAP "
            "is enabled for the account"
        )
    else:
        try:
            password = mailbox.secret(environ)
        except ConfigurationError as exc:
            raise MailboxLoginRefused(f"IMAP login for {server} not tried: {exc}") from exc
        hint = (
            f"check the app password in {mailbox.password_env} and that IMAP is enabled "
            "for the account"
        )
    try:
        client = IMAPClient(
            server.host,
            port=server.port,
            ssl=server.tls,
            ssl_context=ssl.create_default_context() if server.tls else None,
            timeout=timeout,
        )
    except CONNECTION_ERRORS as exc:
        raise MailboxUnreachable(
            f"IMAP server {server.host}:{server.port} unreachable "
            f"({_described(exc, password)}): check the imap URL and the network"
        ) from exc
    try:
        if mailbox.oauth2 is not None:
            client.oauth2_login(server.username, password)
        else:
            client.login(server.username, password)
    except LoginError as exc:
        close_quietly(client)
        raise MailboxLoginRefused(
            f"IMAP login refused for {server} ({_described(exc, password)}): {hint}"
        ) from exc
    except CONNECTION_ERRORS as exc:
        close_quietly(client)
        raise MailboxUnreachable(
            f"IMAP server {server.host}:{server.port} dropped the connection at login "
            f"({_described(exc, password)})"
        ) from exc
    return client


@contextmanager
def connection_errors(server: str) -> Iterator[None]:
    """Turn a dropped or timed-out connection inside the block into
    :class:`MailboxUnreachable`."""
    try:
        yield
    except MailboxError:
        raise
    except CONNECTION_ERRORS as exc:
        raise MailboxUnreachable(
            f"IMAP connection to {server} lost ({_described(exc)}): reconnecting"
        ) from exc


def close_quietly(client: IMAPClient) -> None:
    """Log out, or drop the socket when the server is gone: closing never raises."""
    try:
        client.logout()
    except (*CONNECTION_ERRORS, IMAPClientError):
        try:
            client.shutdown()
        except (*CONNECTION_ERRORS, IMAPClientError):
            pass


def _described(exc: BaseException, secret: str | None = None) -> str:
    """The error's class and text, short, with the secret masked should a server echo it."""
    text = f"{type(exc).__name__}: {exc}"[:200]
    return text.replace(secret, "***") if secret else text

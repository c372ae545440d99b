"""SMTP delivery with one reused connection per worker thread."""

import contextlib
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from cadence.core.errors import (
    ConfigurationError,
    DeliveryError,
    DeliveryOutcomeUnknown,
    MailServerUnavailable,
    TransientDeliveryError,
)
from cadence.transports.headers import envelope_address
from cadence.transports.wire import wire_bytes


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = 30.0


_YES = frozenset({"1", "true", "yes", "on"})
_NO = frozenset({"0", "false", "no", "off", ""})


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp://user:pass@host:port``, ``smtps://…`` or ``smtp://…?starttls=1``."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ConfigurationError(
            f"CADENCE_SMTP_URL {parts.scheme or '?'}://…: use smtp://user:pass@host:port, "
            "smtps://… or smtp://…?starttls=1"
        )
    query = parse_qs(parts.query)
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"CADENCE_SMTP_URL has an invalid port: {exc}") from exc
    if port is None:
        port = 465 if implicit else 25
    elif not 0 < port < 65536:
        raise ConfigurationError(f"CADENCE_SMTP_URL port {port} is not 1 to 65535")
    starttls_word = query.get("starttls", ["0"])[0].strip().lower()
    if starttls_word not in _YES | _NO:
        raise ConfigurationError(
            f"CADENCE_SMTP_URL starttls={starttls_word!r}: use starttls=1 or starttls=0"
        )
    try:
        timeout = float(query.get("timeout", ["30"])[0])
    except ValueError:
        timeout = float("nan")
    if not 0 < timeout <= 600:  # also false for NaN
        raise ConfigurationError("CADENCE_SMTP_URL timeout must be seconds between 0 and 600")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
        starttls=starttls_word in _YES,
        timeout=timeout,
    )


#: A connection used within this many seconds is reused without a NOOP first.
IDLE_CHECK_SECONDS = 2.0


class SmtpTransport:
    """Keeps one open connection per thread; a dropped connection is reopened once.

    ``password``, when given, is called for the login each time a connection is made (an
    SDR mailbox's app password, read from the environment then, never kept here)."""

    def __init__(
        self, settings: SmtpSettings, *, password: Callable[[], str] | None = None
    ) -> None:
        self.settings = settings
        self._password = password
        self._local = threading.local()
        self._open: set[smtplib.SMTP] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> "SmtpTransport":
        return cls(parse_smtp_url(url))

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        client: smtplib.SMTP
        if s.implicit_tls:
            client = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls and not s.implicit_tls:
                client.starttls(context=ssl.create_default_context())
            if s.username:
                password = self._password() if self._password is not None else s.password
                client.login(s.username, password or "")
        except BaseException:
            client.close()  # a refused login or TLS must not leave the socket open
            raise
        return client

    def _connection(self) -> smtplib.SMTP:
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        if client is None:
            client = self._connect()
            self._local.client = client
            with self._lock:
                self._open.add(client)
        return client

    def send(self, message: EmailMessage) -> None:
        """MAIL, RCPT and DATA one by one, so a failure is known to be before or after the
        message was handed over: before is retryable, after is :class:`DeliveryOutcomeUnknown`.
        """
        sender = envelope_address(message, "From")
        recipient = envelope_address(message, "To")
        data = wire_bytes(message)
        client = self._envelope(sender, recipient)
        try:
            code, reply = client.data(data)
        except smtplib.SMTPDataError as exc:
            raise _classified(exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryOutcomeUnknown(
                f"connection lost after the message was sent, before the server answered: {exc}"
            ) from exc
        self._local.used_at = time.monotonic()
        if code != 250:
            raise _classified(code, reply)

    def _envelope(self, sender: str, recipient: str) -> smtplib.SMTP:
        """MAIL FROM and RCPT TO on this thread's connection. A connection reused without a
        check that turns out closed is reopened once: nothing was handed over yet."""
        while True:
            client, checked = self._ready_connection()
            try:
                client.ehlo_or_helo_if_needed()
                code, reply = client.mail(sender)
                if code != 250:
                    client.rset()
                    # The sender or our account is refused: an outage for us, not the prospect's
                    # fault.
                    raise TransientDeliveryError(f"SMTP {code} on MAIL FROM: {_text(reply)}")
                code, reply = client.rcpt(recipient)
                if code not in (250, 251):
                    client.rset()
                    raise _classified(code, reply)
                return client
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                if checked:
                    raise MailServerUnavailable(
                        f"SMTP connection failed before sending: {exc}"
                    ) from exc

    def _ready_connection(self) -> tuple[smtplib.SMTP, bool]:
        """This thread's connection, and whether it is known to work: a new one, or a reused
        one idle for over :data:`IDLE_CHECK_SECONDS` and answered NOOP (a NOOP before every
        email cost a sizeable share of the send rate; a connection used moments ago is trusted, and
        :meth:`_envelope` reopens it if that was wrong)."""
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        if client is not None:
            idle = time.monotonic() - getattr(self._local, "used_at", 0.0)
            if idle <= IDLE_CHECK_SECONDS:
                return client, False
            try:
                if client.noop()[0] == 250:
                    return client, True
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()
        try:
            return self._connection(), True
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise MailServerUnavailable(
                f"cannot reach or log in to the SMTP server: {exc}"
            ) from exc

    def _drop(self) -> None:
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            with self._lock:
                self._open.discard(client)
            with contextlib.suppress(OSError):
                client.close()

    def close(self) -> None:
        """Say QUIT on every thread's connection (worker threads may have exited already)."""
        with self._lock:
            clients, self._open = self._open, set()
        for client in clients:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        self._local = threading.local()


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else reason


def _classified(code: int, reason: bytes | str) -> DeliveryError:
    text = _text(reason)
    if 400 <= code < 500:
        return TransientDeliveryError(f"SMTP {code}: {text}")
    return DeliveryError(f"SMTP {code}: {text}")

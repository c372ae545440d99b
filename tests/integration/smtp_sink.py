"""A real SMTP server on loopback (aiosmtpd) that records what it receives, and when."""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SinkHandler:
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: RCPT addresses answered with a permanent (5xx) or temporary (4xx) refusal.
    refuse: dict[str, str] = field(default_factory=dict)
    #: Answers to DATA, used in turn before accepting (e.g. "451 4.3.0 try again later").
    data_answers: list[str] = field(default_factory=list)
    #: Seconds to wait after storing a message before answering DATA (a lost answer).
    answer_delay: float = 0.0
    sessions: int = 0
    noops: int = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
        self.noops += 1
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answers:
            return self.data_answers.pop(0)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, time.time())
            )
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _password_is_secret(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    # handled=False: a refusal is answered 535, as a real server does, not left unanswered.
    return AuthResult(success=getattr(auth_data, "password", b"") == b"secret", handled=False)


@contextmanager
def smtp_sink(*, auth: bool = False) -> Iterator[tuple[SinkHandler, str]]:
    handler = SinkHandler()
    port = free_port()
    options: dict[str, Any] = {}
    if auth:
        options = {
            "auth_require_tls": False,
            "auth_required": True,
            "authenticator": _password_is_secret,
        }
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield handler, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()

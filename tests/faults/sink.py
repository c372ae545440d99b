"""An SMTP server on loopback for the fault tests: it records every message it accepts (by its
``X-Cadence-Touch`` header, with the time it received it) and can be slowed down, stopped and
started again on the same port while the workers keep sending."""

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller

_HEADERS = BytesHeaderParser()


@dataclass(frozen=True)
class Received:
    touch_id: int
    message_id: str
    recipient: str
    #: Wall-clock time (``time.time()``) when the whole message had arrived.
    at: float


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Seconds before answering DATA, so that a batch takes a while and a fault lands in it.
    delay: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = _HEADERS.parsebytes(envelope.content)
        touch = headers.get("X-Cadence-Touch")
        if touch is None:
            return "554 5.6.0 no X-Cadence-Touch header"
        with self.lock:
            self.received.append(
                Received(
                    touch_id=int(touch),
                    message_id=str(headers.get("Message-ID", "")),
                    recipient=envelope.rcpt_tos[0] if envelope.rcpt_tos else "",
                    at=time.time(),
                )
            )
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


class FaultSink:
    """A restartable aiosmtpd server; what it received survives its restarts."""

    def __init__(self, port: int, *, delay: float = 0.0) -> None:
        self.port = port
        self._handler = _Handler(delay=delay)
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=10"

    @property
    def delay(self) -> float:
        return self._handler.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._handler.delay = seconds

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        assert self._controller is None, "sink already running"
        controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Close the listening socket and every open session: the server is down."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    def count(self) -> int:
        with self._handler.lock:
            return len(self._handler.received)

    def per_touch(self) -> Counter[int]:
        """How many messages the server accepted for each touch id."""
        return Counter(r.touch_id for r in self.received())

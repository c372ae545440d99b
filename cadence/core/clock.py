"""The injected clock: only entry points read real time; tests and the demo move it by hand."""

import threading
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Real time, for production processes."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to, never backwards; safe across worker threads."""

    def __init__(self, start: datetime) -> None:
        _require_aware(start)
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance_to(self, instant: datetime) -> None:
        """Move to ``instant``; a time in the past is ignored so time never runs backwards."""
        _require_aware(instant)
        with self._lock:
            self._now = max(self._now, instant.astimezone(UTC))


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware instant")

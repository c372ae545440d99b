"""Holding a mailbox's lease while reading it: taken before the first folder, renewed every
quarter of its length between messages and while idling, and given up on a clean stop.

A reader asks :meth:`LeaseKeeper.still_held` often; once it answers False the reader stops
touching the mailbox, because another process may be reading it by then.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cadence.core.clock import Clock
from cadence.store.database import transaction
from cadence.store.mailbox_leases import release_lease, take_lease

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(
        self, engine: Engine, clock: Clock, owner: str, *, holder: str, seconds: float
    ) -> None:
        self._engine, self._clock = engine, clock
        self.owner, self.holder, self.seconds = owner, holder, seconds
        self._renewed_at: datetime | None = None

    def take(self) -> bool:
        """Take (or renew) the lease now; False when another process holds it."""
        now = self._clock.now()
        try:
            with transaction(self._engine) as session:
                held = take_lease(session, self.owner, self.holder, now=now, seconds=self.seconds)
        except SQLAlchemyError as exc:
            log.warning("mailbox %s: lease not renewed (%s)", self.owner, exc)
            return self._valid(now)
        self._renewed_at = now if held else None
        return held

    def still_held(self) -> bool:
        """Renew when a quarter of the lease has passed; whether this process may still read.
        A store that cannot be reached keeps the lease only until it would have expired."""
        if self._renewed_at is None:
            return False
        now = self._clock.now()
        if now - self._renewed_at < timedelta(seconds=self.seconds / 4):
            return True
        return self.take()

    def release(self) -> None:
        """Give the lease up so another process can take the mailbox at once."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        try:
            with transaction(self._engine) as session:
                release_lease(session, self.owner, self.holder)
        except SQLAlchemyError as exc:
            log.warning("mailbox %s: lease left to expire (%s)", self.owner, exc)

    def _valid(self, now: datetime) -> bool:
        if self._renewed_at is None:
            return False
        return now < self._renewed_at + timedelta(seconds=self.seconds)

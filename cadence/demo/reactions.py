"""The demo's prospects reacting: seeded replies, unsubscribes and bounces, each started by
the touch it answers and recorded when its delay has passed.

A reaction is recorded through the same service as ``cadence event reply``, so the halts the
summary counts are the engine's own, not the demo's bookkeeping.
"""

import heapq
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select as sa_select

from cadence.core.domain import EventKind, TouchStatus
from cadence.runtime.context import AppContext
from cadence.sequences.events import record_by_hand
from cadence.store.database import reading
from cadence.store.models import PROSPECTS, TOUCHES
from cadence.store.sql_lists import in_list

#: After which touch a replier replies: most replies come mid-cadence, not at touch 1.
_REPLY_AFTER = [1, 2, 2, 3, 4, 4, 5, 6, 6, 7]

#: The prospect, step and status of a stop's touches (built once: a demo makes thousands of
#: stops). By id only: with the status in the query SQLite read every sent touch.
_STOP_TOUCHES = sa_select(TOUCHES.c.prospect_id, TOUCHES.c.step, TOUCHES.c.status).where(
    in_list(TOUCHES.c.id, "ids")
)
#: Touch ids per read of :data:`_STOP_TOUCHES`, under SQLite's limit on bound parameters.
_IDS_PER_READ = 500


@dataclass
class PlannedEvent:
    """What one prospect will do: ``kind``, ``delay`` after their step ``after_step`` is
    sent; ``at`` is set when that touch goes out."""

    email: str
    kind: EventKind
    after_step: int
    delay: timedelta
    at: datetime | None = None


def plan_events(emails: list[str], rng: random.Random) -> dict[str, PlannedEvent]:
    """Seeded outcomes: about a quarter reply, a few unsubscribe, a few bounce."""
    planned = {}
    for email in emails:
        roll = rng.random()
        if roll < 0.25:
            kind, step = EventKind.REPLY, rng.choice(_REPLY_AFTER)
        elif roll < 0.28:
            kind, step = EventKind.UNSUBSCRIBE, rng.choice([1, 2, 4, 6])
        elif roll < 0.30:
            kind, step = EventKind.BOUNCE, 1
        else:
            continue
        delay = (
            timedelta(minutes=3)
            if kind is EventKind.BOUNCE
            else timedelta(minutes=rng.randint(30, 48 * 60))
        )
        planned[email] = PlannedEvent(email, kind, step, delay)
    return planned


class ProspectReactions:
    """The planned events of a run, waiting for their touch and then for their time."""

    def __init__(self, ctx: AppContext, planned: dict[str, PlannedEvent]) -> None:
        self._ctx = ctx
        self._planned = planned
        with reading(ctx.engine) as connection:
            rows = connection.execute(sa_select(PROSPECTS.c.id, PROSPECTS.c.email))
            self._by_prospect = {pid: planned[email] for pid, email in rows if email in planned}
        # Started reactions, earliest first: each stop looks only at the head.
        self._timed: list[tuple[datetime, str]] = []

    def next_at(self) -> datetime | None:
        """When the earliest started reaction falls due, if any: a stop the run must make."""
        return self._timed[0][0] if self._timed else None

    def start_after(self, at: datetime, touch_ids: list[int]) -> None:
        """Start the reactions planned after a step sent at ``at`` among ``touch_ids``; read
        by those ids, so each stop costs what it sent, not the whole touch history."""
        sent: list[tuple[int, int]] = []
        with reading(self._ctx.engine) as connection:
            for start in range(0, len(touch_ids), _IDS_PER_READ):
                chunk = touch_ids[start : start + _IDS_PER_READ]
                rows = connection.execute(_STOP_TOUCHES, {"ids": chunk})
                sent += [(p, step) for p, step, status in rows if status == TouchStatus.SENT]
        for prospect_id, step in sent:
            reaction = self._by_prospect.get(prospect_id)
            if reaction is not None and reaction.at is None and step == reaction.after_step:
                reaction.at = at + reaction.delay
                heapq.heappush(self._timed, (reaction.at, reaction.email))

    def record_due(self, now: datetime) -> None:
        """Record every started reaction due by ``now``, earliest first."""
        while self._timed and self._timed[0][0] <= now:
            _, email = heapq.heappop(self._timed)
            p = self._planned[email]
            record_by_hand(self._ctx, p.kind, p.email, actor="demo:prospect", source="demo")

"""Scheduler and workers in one process: ``cadence run`` and ``cadence demo``.

The same actors and the same real dramatiq ``Worker`` as production, on the in-process broker
(or on Redis when configured). In simulated mode the clock jumps from due time to due time,
draining the queue at each stop, so weeks of a cadence run in seconds.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from dramatiq import Worker
from sqlalchemy import func, select

from cadence.core.clock import SimulatedClock
from cadence.core.domain import TouchStatus
from cadence.runtime.context import AppContext
from cadence.runtime.store_setup import record_template_versions
from cadence.scheduler.due_touches import next_due_at
from cadence.scheduler.tick import scheduler_tick
from cadence.store.database import reading
from cadence.store.models import TOUCHES
from workers.actors import Actors, declare_actors
from workers.broker import TOUCH_QUEUE, build_broker

log = logging.getLogger(__name__)

#: Touches claimed and not yet worked; built once, as a simulation drains at every stop.
_IN_FLIGHT = (
    select(func.count())
    .select_from(TOUCHES)
    .where(TOUCHES.c.status.in_([TouchStatus.QUEUED.value, TouchStatus.SENDING.value]))
)

#: How long a simulated stop waits for in-flight touches before giving up (seconds).
DRAIN_TIMEOUT = 120.0


@dataclass
class SimulationStop:
    at: datetime
    #: The touches claimed (and worked) at this stop.
    touch_ids: list[int]

    @property
    def claimed(self) -> int:
        return len(self.touch_ids)


class EmbeddedEngine:
    def __init__(self, ctx: AppContext, *, worker_threads: int | None = None) -> None:
        self.ctx = ctx
        self.broker = build_broker(ctx.settings.redis_url)
        self.actors: Actors = declare_actors(self.broker, ctx)
        self.worker = Worker(
            self.broker,
            worker_threads=worker_threads or ctx.settings.worker_threads,
            worker_timeout=100,
        )

    def __enter__(self) -> "EmbeddedEngine":
        record_template_versions(self.ctx)
        self.worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.worker.stop()
        self.broker.close()

    def tick(self) -> list[int]:
        """One scheduler pass: claim what is due now and enqueue it; the touches enqueued."""
        enqueued: list[int] = []

        def enqueue(touch_ids: Sequence[int]) -> None:
            self.actors.enqueue_touches(touch_ids)
            enqueued.extend(touch_ids)

        scheduler_tick(self.ctx, enqueue)
        return list(dict.fromkeys(enqueued))  # a re-enqueued stale touch counts once

    def drain(self) -> None:
        """Wait until every claimed touch has been worked (the store says so, not the queue)."""
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while True:
            self.broker.join(TOUCH_QUEUE)
            self.worker.join()
            with reading(self.ctx.engine) as connection:
                in_flight = connection.execute(_IN_FLIGHT).scalar_one()
            if not in_flight:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{in_flight} touches still in flight after {DRAIN_TIMEOUT}s")
            time.sleep(0.05)

    def simulate(
        self,
        clock: SimulatedClock,
        until: datetime,
        *,
        extra_stops: Callable[[], datetime | None] = lambda: None,
        at_stop: Callable[[datetime], None] = lambda _now: None,
        on_progress: Callable[[SimulationStop], None] = lambda _stop: None,
        resolution: timedelta = timedelta(minutes=1),
    ) -> int:
        """Jump the clock from due time to due time until ``until``; returns touches run.

        ``extra_stops`` and ``at_stop`` let a caller (the demo) make things happen at given
        times, such as a prospect replying, through the same services as a real event.
        ``resolution`` is the scheduler's interval: stops fall on a grid of it from the start,
        so whatever falls due within one interval (touches, the caller's events) is handled
        together at the next tick, at most that late (plans keep a margin before a window
        closes).
        """
        start = clock.now()
        total = 0
        while True:
            now = clock.now()
            at_stop(now)
            claimed = self.tick()
            if claimed:
                self.drain()
            total += len(claimed)
            on_progress(SimulationStop(now, claimed))
            with reading(self.ctx.engine) as connection:
                candidates = [next_due_at(connection), extra_stops()]
            upcoming = min((c for c in candidates if c is not None), default=None)
            if upcoming is None or upcoming > until or now >= until:
                if until > now:
                    clock.advance_to(until)
                return total
            if upcoming <= now and not claimed:
                raise RuntimeError(f"simulation stuck at {now.isoformat()}: due work not claimed")
            next_stop = max(upcoming, now + resolution)
            ticks = -((start - next_stop) // resolution)  # whole intervals, rounded up
            clock.advance_to(min(start + ticks * resolution, until))

    def run_forever(self, interval_seconds: float, stop: threading.Event | None = None) -> None:
        """Real time: an APScheduler job ticks every ``interval_seconds`` until stopped."""
        scheduler = BlockingScheduler()
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=interval_seconds,
            max_instances=1,
            coalesce=True,
            next_run_time=self.ctx.clock.now(),
        )
        if stop is not None:
            threading.Thread(
                target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True
            ).start()
        scheduler.start()

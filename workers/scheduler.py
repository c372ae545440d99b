"""The Procfile's ``scheduler`` process: APScheduler ticks that only claim and enqueue on
Redis; the workers do the rest. Run exactly one (APScheduler keeps no shared job store)."""

import threading

from apscheduler.schedulers.blocking import BlockingScheduler

from cadence.runtime.context import AppContext
from cadence.scheduler.tick import scheduler_tick
from workers.actors import declare_actors
from workers.broker import build_broker


def run_scheduler(ctx: AppContext, stop: threading.Event) -> None:
    """The Procfile's scheduler: APScheduler ticks that only claim and enqueue on Redis."""
    broker = build_broker(ctx.settings.redis_url)
    actors = declare_actors(broker, ctx)
    scheduler = BlockingScheduler()
    scheduler.add_job(
        lambda: scheduler_tick(ctx, actors.enqueue_touches),
        "interval",
        seconds=ctx.settings.scheduler_interval_seconds,
        max_instances=1,
        coalesce=True,
        next_run_time=ctx.clock.now(),
    )
    threading.Thread(
        target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True
    ).start()
    scheduler.start()

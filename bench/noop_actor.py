"""dramatiq's own ceiling: a no-op actor on a RedisBroker (``dramatiq noop_actor --path bench``).

Used by end_to_end.py as the baseline, with the same processes and threads as Cadence's workers.
"""

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

QUEUE = "bench_noop"

broker = RedisBroker(url=os.environ["BENCH_NOOP_REDIS_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def noop(i: int) -> None:
    """Does nothing: what is left is dramatiq's own cost per message."""

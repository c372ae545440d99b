"""Actors: take ids, never objects; idempotent because the store guards every transition."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq import Broker

from cadence.delivery.batch import deliver_touches
from cadence.runtime.context import AppContext
from workers.broker import TOUCH_QUEUE

#: dramatiq retries a touch whose send failed transiently (SMTP 4xx, timeouts) with backoff.
MAX_RETRIES = 5


@dataclass(frozen=True)
class Actors:
    deliver: Any  # dramatiq.Actor[[list[int]], None]; its generics do not type-check cleanly
    batch_size: int

    def enqueue_touches(self, touch_ids: Sequence[int]) -> None:
        """One message per batch of touches: a worker claims and records a batch with one
        commit each, so the store's cost per touch falls with the batch."""
        ids = list(touch_ids)
        for start in range(0, len(ids), self.batch_size):
            self.deliver.send(ids[start : start + self.batch_size])


def declare_actors(broker: Broker, ctx: AppContext) -> Actors:
    """Bind the actors to ``broker``, closing over the process's context."""

    def deliver_touch_actor(touch_ids: list[int] | int) -> None:
        # A bare id is a message enqueued by a version that sent one touch per message.
        deliver_touches(ctx, [touch_ids] if isinstance(touch_ids, int) else touch_ids)

    deliver = dramatiq.actor(
        broker=broker,
        actor_name="deliver_touch",
        queue_name=TOUCH_QUEUE,
        max_retries=MAX_RETRIES,
        min_backoff=2_000,
        max_backoff=300_000,
        # dramatiq's default of 10 minutes could stop a slow batch midway; two minutes an
        # email covers an SMTP timeout at each step (untried emails are requeued anyway).
        time_limit=max(600_000, 120_000 * ctx.settings.delivery_batch_size),
    )(deliver_touch_actor)
    return Actors(deliver=deliver, batch_size=ctx.settings.delivery_batch_size)

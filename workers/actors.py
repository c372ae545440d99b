"""Actors: take ids, never objects; idempotent because the store guards every transition."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq import Broker

from cadence.context import AppContext
from cadence.delivery import deliver_touch
from workers.broker import TOUCH_QUEUE

#: dramatiq retries a touch whose send failed transiently (SMTP 4xx, timeouts) with backoff.
MAX_RETRIES = 5


@dataclass(frozen=True)
class Actors:
    deliver: Any  # dramatiq.Actor[[int], None]; dramatiq's generics do not type-check cleanly

    def enqueue_touches(self, touch_ids: Sequence[int]) -> None:
        for touch_id in touch_ids:
            self.deliver.send(touch_id)


def declare_actors(broker: Broker, ctx: AppContext) -> Actors:
    """Bind the actors to ``broker``, closing over the process's context."""

    def deliver_touch_actor(touch_id: int) -> None:
        deliver_touch(ctx, touch_id)

    deliver = dramatiq.actor(
        broker=broker,
        actor_name="deliver_touch",
        queue_name=TOUCH_QUEUE,
        max_retries=MAX_RETRIES,
        min_backoff=2_000,
        max_backoff=300_000,
    )(deliver_touch_actor)
    return Actors(deliver=deliver)

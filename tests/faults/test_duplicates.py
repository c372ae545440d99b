"""The same dramatiq message delivered more than once, and two schedulers running at once (the
mistake issue 3 names): the claim guards against a second enqueue, the worker's compare-and-set
against a second send."""

from collections.abc import Callable

import pytest
from dramatiq.brokers.redis import RedisBroker

from workers.actors import declare_actors

from .rig import BLAST_CADENCE, Rig
from .tally import Tally

pytestmark = pytest.mark.integration

BATCH = 300


def test_duplicate_messages_and_two_schedulers_send_one_email_per_touch(
    rig: Rig, report_fault: Callable[[Tally], None]
) -> None:
    # Both schedulers tick before the touches exist, in small claim batches, so that both
    # loop over many claims at the same moment once the batch falls due.
    for name in ("scheduler-1", "scheduler-2"):
        rig.start_scheduler(name, CADENCE_CLAIM_BATCH_SIZE="7")
    rig.wait_until(
        "both schedulers are ticking",
        lambda: rig.connected("scheduler-1") and rig.connected("scheduler-2"),
    )
    rig.add_prospects(BATCH, BLAST_CADENCE)
    rig.wait_until("both schedulers claimed every touch", lambda: rig.counts()["queued"] == BATCH)
    rig.wait_until(
        "every claimed touch is on the queue", lambda: len(rig.queued_touch_ids()) >= BATCH
    )
    touches = rig.touches()
    claimed_twice = [t for t in touches.values() if t.enqueues != 1]
    assert claimed_twice == [], "a touch was claimed (enqueued) by both schedulers"
    queued = rig.queued_touch_ids()
    assert sorted(queued) == sorted(touches), "each touch on the queue once, from one scheduler"

    # The test sends every touch twice more, through the same actor the scheduler uses and in
    # batches of other touches: three messages hold each touch, for two workers to race on.
    ctx = rig.context("test-producer")
    broker = RedisBroker(url=rig.redis.url)  # type: ignore[no-untyped-call]
    try:
        actors = declare_actors(broker, ctx)
        ids = sorted(touches)
        actors.enqueue_touches(ids)
        actors.enqueue_touches(ids[::-1])
        assert len(rig.queued_touch_ids()) == 3 * BATCH  # no worker runs yet

        rig.start_worker("worker-1")
        rig.start_worker("worker-2")
        rig.drain(age_when_stalled=False)
        # Once more after every touch is sent: a late redelivery sends nothing either.
        actors.enqueue_touches(ids)
        rig.wait_until(
            "the late duplicates are consumed",
            lambda: rig.queue_depth() == {"waiting": 0, "delayed": 0},
            timeout=60,
        )
    finally:
        broker.close()
        ctx.close()
    rig.shutdown()

    tally = rig.tally("duplicate messages + two schedulers")
    report_fault(tally)
    tally.assert_clean()
    assert tally.sent == len(tally.touches) == BATCH
    assert sum(tally.received.values()) == BATCH

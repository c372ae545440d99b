"""A worker stopped in the middle of a batch: killed (``kill -9``) or asked to stop (SIGTERM).

Killed: what it had in hand stays ``sending`` and the reaper flags it ``unconfirmed``; what it
had prefetched stays ``queued`` and the scheduler's stale sweep sends it again; a new worker
delivers the rest. Asked to stop: it finishes what it started, gives back what it had
prefetched and exits, leaving nothing ``sending``.
"""

from collections.abc import Callable

import pytest

from .rig import BLAST_CADENCE, Rig
from .tally import Tally

pytestmark = pytest.mark.integration

BATCH = 400
#: Slow enough that a batch takes several seconds, so the stop lands in the middle of it.
SMTP_DELAY = 0.02


def test_kill_9_a_worker_mid_batch(rig: Rig, report_fault: Callable[[Tally], None]) -> None:
    rig.sink.delay = SMTP_DELAY
    rig.add_prospects(BATCH, BLAST_CADENCE)
    rig.start_scheduler()
    first = rig.start_worker("worker-1")
    rig.wait_until("a quarter of the batch is delivered", lambda: rig.sink.count() >= BATCH // 4)
    first.kill()
    # Nothing runs deliveries now: what is ``sending`` is what the dead worker had in hand.
    in_hand = frozenset(t.id for t in rig.touches().values() if t.status == "sending")
    assert rig.sink.count() < BATCH, "the kill must land in the middle of the batch"

    rig.start_worker("worker-2")
    # The dead worker's prefetched messages are gone with it; in the store those touches are
    # still ``queued``, and only REQUEUE_AFTER (10 minutes) later does the scheduler send them
    # again. The drain simulates that wait by ageing ``queued_at`` when progress stalls.
    rig.drain(age_when_stalled=True, exclude=in_hand)
    assert rig.counts()["sending"] == len(in_hand)
    # UNCONFIRMED_AFTER (15 minutes) cannot be waited for: run the reaper as of 20 minutes on.
    assert rig.reap() == len(in_hand)
    health = rig.status()
    rig.shutdown()

    tally = rig.tally("kill-9 worker mid-batch")
    report_fault(tally)
    tally.assert_clean()
    assert health["unconfirmed"] == tally.unconfirmed
    assert health["sending"] == health["queued"] == health["due_backlog"] == 0
    assert len(tally.touches) == BATCH
    unconfirmed = {t.id for t in tally.touches.values() if t.status == "unconfirmed"}
    assert unconfirmed == set(in_hand)
    for touch_id in unconfirmed:
        assert "review" in (tally.touches[touch_id].reason or "")
    assert tally.sent + tally.unconfirmed == BATCH


def test_sigterm_drains_in_flight_touches_and_exits(
    rig: Rig, report_fault: Callable[[Tally], None]
) -> None:
    rig.sink.delay = SMTP_DELAY
    rig.add_prospects(BATCH, BLAST_CADENCE)
    rig.start_scheduler()
    worker = rig.start_worker("worker-1")
    rig.wait_until("a quarter of the batch is delivered", lambda: rig.sink.count() >= BATCH // 4)
    started = frozenset(t.id for t in rig.touches().values() if t.status == "sending")
    assert worker.terminate(timeout=60) == 0, rig.logs()

    after = rig.touches()
    assert rig.sink.count() < BATCH, "the SIGTERM must land in the middle of the batch"
    still_sending = [t for t in after.values() if t.status == "sending"]
    assert still_sending == [], f"left sending after SIGTERM: {still_sending}"
    assert [t for t in after.values() if t.status == "unconfirmed"] == []
    assert all(after[i].status == "sent" for i in started), "in-flight touches must finish"
    received = rig.sink.per_touch()
    assert {i for i, t in after.items() if t.status == "sent"} == set(received)

    # What it had prefetched went back to Redis: a new worker finishes the batch without the
    # store's stale sweep having to step in.
    rig.start_worker("worker-2")
    rig.drain(age_when_stalled=False)
    rig.shutdown()

    tally = rig.tally("SIGTERM worker mid-batch")
    report_fault(tally)
    tally.assert_clean()
    assert tally.sent == len(tally.touches) == BATCH

"""The scheduler asked to stop (SIGTERM, as honcho, systemd or a deploy does) finishes its tick
and exits cleanly, so no claimed touch is left waiting for the stale sweep."""

import pytest

from .rig import BLAST_CADENCE, Rig

pytestmark = pytest.mark.integration

BATCH = 50


def test_scheduler_exits_cleanly_on_sigterm(rig: Rig) -> None:
    rig.add_prospects(BATCH, BLAST_CADENCE)
    scheduler = rig.start_scheduler()
    rig.wait_until("the batch is claimed", lambda: rig.counts()["queued"] == BATCH)
    rig.wait_until("the batch is enqueued", lambda: len(rig.queued_touch_ids()) == BATCH)
    assert scheduler.terminate(timeout=30) == 0, rig.logs()

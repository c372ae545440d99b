"""Outages while a backlog is being delivered: Redis stopped and started again (empty), the SMTP
server down, PostgreSQL connections cut. The scheduler and the worker keep running through all
of it and reconnect by themselves; the backlog is delivered afterwards, once."""

import json
import subprocess
import time
from collections.abc import Callable

import pytest

from .processes import BIN
from .rig import BLAST_CADENCE, Rig
from .tally import Tally

pytestmark = pytest.mark.integration

BATCH = 400
#: Each message takes a while, so that every outage lands with most of the batch pending.
SMTP_DELAY = 0.05
#: How long each outage lasts (seconds); the processes are left running through it.
OUTAGE = 3.0
#: Deliveries to see after each outage before the next one: proof the engine recovered.
PROGRESS = 40


def _recovers(rig: Rig, what: str) -> None:
    """Wait until ``PROGRESS`` more emails arrive; touches stranded as ``queued`` by the outage
    are found again by the scheduler's stale sweep (its 10-minute wait is simulated)."""
    target = rig.sink.count() + PROGRESS
    rig.drain(
        age_when_stalled=True,
        until=lambda: rig.sink.count() >= target,
        stuck_sending_ok=True,
        timeout=120,
    )
    assert rig.sink.count() >= target or not rig.counts()["queued"], f"no recovery after {what}"


def test_redis_smtp_and_postgres_outages_deliver_the_backlog_once(
    rig: Rig, report_fault: Callable[[Tally], None]
) -> None:
    rig.sink.delay = SMTP_DELAY
    rig.add_prospects(BATCH, BLAST_CADENCE)
    rig.start_scheduler()
    rig.start_worker()
    rig.wait_until("deliveries start", lambda: rig.sink.count() >= PROGRESS)

    # Redis down, then up again on the same port with nothing in it: every message that was
    # waiting in the queue is gone ("touches enqueued but lost"); the store still has them
    # as ``queued``, and only the scheduler's stale sweep can send them again.
    rig.redis.stop()
    time.sleep(OUTAGE)
    assert rig.sink.count() < BATCH, "the Redis outage must land in the middle of the batch"
    rig.redis.start()
    _recovers(rig, "Redis restarted empty")

    # The SMTP server down: sends fail before any data left (connection refused), so they are
    # retried with backoff and nothing is marked failed.
    rig.sink.stop()
    time.sleep(OUTAGE)
    rig.sink.start()
    _recovers(rig, "the SMTP server came back")

    # PostgreSQL cuts every connection of the scheduler and the worker, a few times over.
    cut = 0
    for _ in range(4):
        cut += rig.drop_connections()
        time.sleep(0.5)
    assert cut, "no connection of the processes under test was found to cut"
    _recovers(rig, "PostgreSQL connections were cut")

    rig.drain(age_when_stalled=True, stuck_sending_ok=True)
    # A send accepted just before its connection to the store was cut stays ``sending``: the
    # reaper (UNCONFIRMED_AFTER, 15 minutes, run as of 20 minutes on) flags it for review.
    rig.reap()
    health = rig.status()
    rig.shutdown()

    tally = rig.tally("Redis/SMTP/PostgreSQL outages")
    report_fault(tally)
    tally.assert_clean()
    assert health["unconfirmed"] == tally.unconfirmed
    assert health["sending"] == health["queued"] == health["due_backlog"] == 0
    assert len(tally.touches) == BATCH
    assert tally.sent + tally.unconfirmed == BATCH


def test_status_reports_a_redis_outage_instead_of_crashing(rig: Rig) -> None:
    rig.add_prospects(20, BLAST_CADENCE)
    rig.redis.stop()
    done = subprocess.run(
        [str(BIN / "cadence"), "status", "--json"],
        env=rig.env("cli"),
        cwd=rig.tmp,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    health = json.loads(done.stdout)
    assert health["due_backlog"] == 20
    assert "error" in health["broker"]

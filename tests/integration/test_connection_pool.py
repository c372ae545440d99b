"""A worker process's PostgreSQL pool fits its threads: each may hold two connections at
once (its claim, and the side transaction that creates a mailbox's counter row for a new
day), so a pool sized for 8 threads made a process of 16 wait on its own pool."""

import threading
from contextlib import ExitStack

import pytest

from cadence.database import create_db_engine

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("threads", [8, 16, 24])
def test_every_worker_thread_can_hold_two_connections_at_once(
    postgres_admin_url: str, threads: int
) -> None:
    engine = create_db_engine(postgres_admin_url, threads=threads)
    engine.pool._timeout = 2.0  # type: ignore[attr-defined]  # fail fast, not after 30 s
    all_holding = threading.Barrier(threads, timeout=20)
    failures: list[BaseException] = []

    def worker_thread() -> None:
        try:
            with ExitStack() as held:
                for _ in range(2):
                    held.enter_context(engine.connect()).exec_driver_sql("SELECT 1")
                all_holding.wait()
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)
            all_holding.abort()

    workers = [threading.Thread(target=worker_thread) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    engine.dispose()
    assert failures == []

"""A worker process's PostgreSQL pool fits its threads: each may hold two connections at
once (its claim, and the side transaction that creates a mailbox's counter row for a new
day), so a pool sized for 8 threads made a process of 16 wait on its own pool."""

import threading
from collections.abc import Callable
from contextlib import ExitStack

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import Engine

from cadence.runtime.context import AppContext
from cadence.store.database import create_db_engine
from workers.pool_fit import PoolFitsWorkerThreads

pytestmark = pytest.mark.integration


def _failures_holding_two_each(engine: Engine, threads: int) -> list[BaseException]:
    """What went wrong when ``threads`` threads each took two of the engine's connections
    and held them until all had theirs."""
    engine.pool._timeout = 2.0  # type: ignore[attr-defined]  # fail fast, not after 30 s
    all_holding = threading.Barrier(threads, timeout=20)
    failures: list[BaseException] = []

    def worker_thread() -> None:
        try:
            with ExitStack() as held:
                for _ in range(2):
                    held.enter_context(engine.connect()).exec_driver_sql("SELECT 1")
                all_holding.wait()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            failures.append(exc)
            all_holding.abort()

    workers = [threading.Thread(target=worker_thread) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return failures


@pytest.mark.parametrize("threads", [8, 16, 24])
def test_every_worker_thread_can_hold_two_connections_at_once(
    postgres_admin_url: str, threads: int
) -> None:
    engine = create_db_engine(postgres_admin_url, threads=threads)
    failures = _failures_holding_two_each(engine, threads)
    engine.dispose()
    assert failures == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_dramatiq_threads_beyond_the_setting_get_a_pool_that_fits_them(
    make_context: Callable[..., AppContext],
) -> None:
    """``dramatiq workers.main --threads 16`` with CADENCE_WORKER_THREADS left at its
    default: the pool is sized for the 16 threads the worker starts, not for the setting."""
    ctx = make_context()
    assert ctx.settings.worker_threads < 16
    broker = StubBroker()
    broker.add_middleware(PoolFitsWorkerThreads(ctx))
    worker = Worker(broker, worker_threads=16, worker_timeout=100)
    worker.start()
    try:
        failures = _failures_holding_two_each(ctx.engine, 16)
    finally:
        worker.stop()
    assert failures == []

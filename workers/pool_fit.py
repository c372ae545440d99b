"""A worker process's database pool sized for the threads dramatiq really starts.

dramatiq's ``--threads`` reaches the process only as the ``Worker`` it builds after
importing ``workers.main``, where the context (and its pool, sized from
``CADENCE_WORKER_THREADS``) already exists. Two settings that must agree are one too many:
before the threads start, a pool too small for them is replaced by one that fits.
"""

from dramatiq import Broker, Middleware, Worker

from cadence.runtime.context import AppContext
from cadence.store.database import create_db_engine


class PoolFitsWorkerThreads(Middleware):
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        threads = worker.worker_threads
        if threads <= self.ctx.settings.worker_threads:
            return
        too_small = self.ctx.engine
        self.ctx.engine = create_db_engine(self.ctx.settings.database_url, threads=threads)
        too_small.dispose()

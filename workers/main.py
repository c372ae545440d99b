"""Entry module for ``dramatiq workers.main`` (the Procfile's worker).

dramatiq's CLI imports a module and then uses the global broker, so this module does the one
piece of work at import that dramatiq forces: build the context and the broker.
"""

import dramatiq

from cadence.runtime.context import build_context
from cadence.runtime.settings import load_settings
from cadence.runtime.store_setup import record_template_versions
from workers.actors import declare_actors
from workers.broker import build_broker
from workers.pool_fit import PoolFitsWorkerThreads

settings = load_settings()
if not settings.redis_url:
    raise SystemExit(
        "the worker process needs CADENCE_REDIS_URL; without Redis use `cadence run`, "
        "which runs scheduler and workers in one process"
    )
context = build_context(settings)
record_template_versions(context)
broker = build_broker(settings.redis_url)
broker.add_middleware(PoolFitsWorkerThreads(context))
dramatiq.set_broker(broker)
actors = declare_actors(broker, context)

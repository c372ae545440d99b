"""The one place a dramatiq broker is built.

With no Redis URL the broker is dramatiq's in-process ``StubBroker`` (the embedded default);
with one, dramatiq's ``RedisBroker``. Brokers are built by this function, not at import, so
tests and the embedded runner each get their own without clashing actor registrations.
"""

from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

TOUCH_QUEUE = "touches"


def build_broker(redis_url: str | None) -> Broker:
    if redis_url:
        return RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
    broker = StubBroker()
    broker.emit_after("process_boot")
    return broker

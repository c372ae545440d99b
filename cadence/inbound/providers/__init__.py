"""Provider webhooks, one module per provider, each turning a request into raw MIME for
:func:`cadence.inbound.processing.process_inbound` or :class:`ProviderEvent` values for the store.

The parsing and signature modules are pure (bytes and values in, values or a
:class:`WebhookRejected` out); :mod:`.recording` and :mod:`.nonces` touch the store.
"""

from cadence.inbound.providers.base import (
    Forbidden,
    Malformed,
    ProviderEvent,
    TooLarge,
    Unauthorized,
    WebhookRejected,
)
from cadence.inbound.providers.recording import Recorded, record_message, record_provider_events
from cadence.inbound.providers.signing import cadence_signature
from cadence.inbound.providers.sns import SnsClient

__all__ = [
    "Forbidden",
    "Malformed",
    "ProviderEvent",
    "Recorded",
    "SnsClient",
    "TooLarge",
    "Unauthorized",
    "WebhookRejected",
    "cadence_signature",
    "record_message",
    "record_provider_events",
]

"""``/raw``: a whole RFC 822 message from our own mail pipeline (a Postfix pipe, an IMAP
poller, a forwarding script), signed with the shared ``inbound_hmac_secret``."""

from collections.abc import Mapping
from datetime import datetime

from cadence.inbound.providers.base import Malformed
from cadence.inbound.providers.signing import check_cadence_signature

PROVIDER = "raw"


def verify_message(
    secret: str | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    max_age_seconds: int,
) -> str:
    """Check the signature and freshness; returns the nonce to claim. An empty body is
    refused (400) only after the signature is checked, so probing learns nothing."""
    nonce = check_cadence_signature(
        secret,
        body=body,
        signature=headers.get("x-cadence-signature"),
        timestamp=headers.get("x-cadence-timestamp"),
        now=now,
        max_age_seconds=max_age_seconds,
    )
    if not body.strip():
        raise Malformed("empty message")
    return nonce

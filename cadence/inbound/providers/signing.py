"""Pure checks for shared-secret webhooks: HMAC signatures, freshness and Basic auth.

Every comparison is constant-time, so a caller cannot learn a secret byte by byte.
"""

import base64
import binascii
import hashlib
import hmac
from datetime import datetime

from cadence.inbound.providers.base import Forbidden, Unauthorized


def hmac_sha256_hex(key: str | bytes, message: bytes) -> str:
    secret = key.encode() if isinstance(key, str) else key
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_fresh(timestamp: str, *, now: datetime, max_age_seconds: int) -> float:
    """The Unix ``timestamp`` as seconds; :class:`Forbidden` when it is not a number or lies
    more than ``max_age_seconds`` from ``now`` either way (a replayed capture, or a sender
    whose clock would let a signature live on)."""
    try:
        seconds = float(timestamp)
    except ValueError:
        raise Forbidden("timestamp is not a Unix time") from None
    if seconds != seconds or abs(now.timestamp() - seconds) > max_age_seconds:
        raise Forbidden("stale or future timestamp: refused")
    return seconds


def check_hmac(key: str | None, message: bytes, signature: str) -> None:
    """:class:`Forbidden` unless ``signature`` is the hex HMAC-SHA256 of ``message``."""
    if not key:
        raise Forbidden("this endpoint's signing key is not configured")
    if not signature or not same(hmac_sha256_hex(key, message), signature.strip().lower()):
        raise Forbidden("bad signature")


def check_basic_auth(header: str | None, expected: str | None) -> None:
    """``expected`` is ``user:password``; :class:`Unauthorized` unless ``header`` carries it,
    :class:`Forbidden` when the endpoint has no credentials configured at all."""
    if not expected:
        raise Forbidden("this endpoint's Basic auth credentials are not configured")
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("Basic auth required")
    try:
        given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Basic auth") from None
    if not same(given, expected):
        raise Unauthorized("wrong Basic auth credentials")


def check_cadence_signature(
    secret: str | None,
    *,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
    max_age_seconds: int,
) -> str:
    """Our own scheme for ``/raw`` and ``/generic``: ``X-Cadence-Signature: sha256=<hex>``
    of ``timestamp + "." + body`` with ``X-Cadence-Timestamp`` (Unix seconds) fresh.

    Returns the signature, which the caller keeps as a one-time nonce.
    """
    key, stamp, digest = _cadence_headers(secret, signature, timestamp)
    check_hmac(key, stamp.encode() + b"." + body, digest)
    check_fresh(stamp, now=now, max_age_seconds=max_age_seconds)
    return digest.strip().lower()


def check_cadence_headers(
    secret: str | None,
    *,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
    max_age_seconds: int,
) -> None:
    """What :func:`check_cadence_signature` can refuse from the headers alone (no secret
    configured, a header missing or malformed, a stale timestamp), checked before the body
    is read so a sender without them is refused unread."""
    _, stamp, _ = _cadence_headers(secret, signature, timestamp)
    check_fresh(stamp, now=now, max_age_seconds=max_age_seconds)


def _cadence_headers(
    secret: str | None, signature: str | None, timestamp: str | None
) -> tuple[str, str, str]:
    """The secret, the timestamp and the signature's hex digest, each present."""
    if not secret:
        raise Forbidden("CADENCE_INBOUND_HMAC_SECRET is not configured")
    if not signature or not timestamp:
        raise Unauthorized("X-Cadence-Signature and X-Cadence-Timestamp are required")
    scheme, _, digest = signature.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        raise Unauthorized("X-Cadence-Signature must be sha256=<hex>")
    return secret, timestamp.strip(), digest


def cadence_signature(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers a sender adds (documentation and tests use it)."""
    digest = hmac_sha256_hex(secret, str(timestamp).encode() + b"." + body)
    return {"X-Cadence-Signature": f"sha256={digest}", "X-Cadence-Timestamp": str(timestamp)}

"""Amazon SNS message signatures, checked as AWS documents them.

A message is trusted only if its ``SigningCertURL`` is HTTPS on ``sns.<region>.amazonaws.com``
with a ``.pem`` path, the certificate fetched from there (over verified TLS, cached by URL)
is in date, and its RSA key verifies ``Signature`` over the canonical string of the
message's fields (SHA1 for ``SignatureVersion`` 1, SHA256 for 2). The topic must be one
we subscribed to. Fetching is injectable: tests serve their own certificate.
"""

import base64
import binascii
import logging
import re
import ssl
import threading
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from cadence.inbound.providers.base import Forbidden, Malformed, WebhookRejected

#: JSON values an SNS envelope has at most: a dozen string fields and a few message
#: attributes; the notification itself is one string among them.
MAX_ENVELOPE_TOKENS = 1000

log = logging.getLogger(__name__)

#: ``(url) -> body``; raises on any failure. The default uses urllib with TLS verification.
HttpGet = Callable[[str], bytes]

_AWS_HOST = re.compile(r"sns\.[a-z0-9-]{1,40}\.amazonaws\.com(\.cn)?")
#: Fields in the canonical string, in this order; ``Subject`` only when present.
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]
#: SNS retries a failed delivery with the original Timestamp for as long as the topic's
#: delivery policy says; older messages are refused. A replay inside the window is
#: harmless: the message is signed whole and its MessageId makes it a duplicate.
MAX_AGE = timedelta(hours=24)
#: Clock skew tolerated for a Timestamp in the future.
MAX_SKEW = timedelta(minutes=5)
_MAX_CACHED = 32


class Unavailable(WebhookRejected):
    """The signing certificate could not be fetched (503): SNS will retry."""

    status_code = 503


def check_aws_url(url: str, *, pem: bool) -> None:
    """:class:`Forbidden` unless ``url`` is HTTPS on an SNS host (and a ``.pem`` file)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise Forbidden("malformed SNS URL") from None
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.password is not None
        or port not in (None, 443)
        or not _AWS_HOST.fullmatch(parts.hostname or "")
        or (pem and not parts.path.endswith(".pem"))
    ):
        raise Forbidden(f"not an Amazon SNS URL: {url[:200]!r}")


def string_to_sign(envelope: dict[str, Any]) -> bytes:
    """The canonical ``Name\\nvalue\\n`` string SNS signs for this message type."""
    fields = SIGNED_FIELDS.get(str(envelope.get("Type")))
    if fields is None:
        raise Malformed(f"unknown SNS message type {str(envelope.get('Type'))[:50]!r}")
    out: list[str] = []
    for name in fields:
        value = envelope.get(name)
        if name == "Subject" and value is None:
            continue
        if not isinstance(value, str):
            raise Malformed(f"SNS message without {name}")
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode("utf-8")


def https_get(url: str) -> bytes:
    """GET ``url`` with certificate verification; at most 1 MB; 10 seconds."""
    request = urllib.request.Request(url, headers={"User-Agent": "cadence-sns"})
    context = ssl.create_default_context()
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        body: bytes = response.read(1_000_001)
    if len(body) > 1_000_000:
        raise ValueError("response too large")
    return body


class SnsClient:
    """Fetches and caches signing certificates; confirms subscriptions. One per web app."""

    def __init__(self, http_get: HttpGet = https_get) -> None:
        self._get = http_get
        self._certificates: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def certificate(self, url: str) -> x509.Certificate:
        """The certificate at ``url`` (checked to be an SNS URL first), from the cache when
        fetched before. :class:`Unavailable` when it cannot be fetched."""
        check_aws_url(url, pem=True)
        with self._lock:
            cached = self._certificates.get(url)
        if cached is not None:
            return cached
        try:
            certificate = x509.load_pem_x509_certificate(self._get(url))
        except Exception as error:  # any network or parse failure: retry later
            log.warning("cannot fetch SNS signing certificate %s: %s", url, error)
            raise Unavailable("the SNS signing certificate could not be fetched") from error
        with self._lock:
            if len(self._certificates) >= _MAX_CACHED:
                self._certificates.clear()
            self._certificates[url] = certificate
        return certificate

    def confirm_subscription(self, url: str) -> None:
        """Visit ``SubscribeURL`` (only an SNS one), which confirms the subscription."""
        check_aws_url(url, pem=False)
        self._get(url)


def verify(
    envelope: dict[str, Any], *, client: SnsClient, topics: frozenset[str], now: datetime
) -> None:
    """:class:`Forbidden` unless ``envelope`` is a fresh SNS message, signed by SNS, from one
    of ``topics``. Checks that need no network come first."""
    canonical = string_to_sign(envelope)
    if envelope.get("TopicArn") not in topics:
        raise Forbidden("SNS topic is not in CADENCE_SES_TOPIC_ARNS")
    try:
        sent = datetime.fromisoformat(str(envelope.get("Timestamp")).replace("Z", "+00:00"))
    except ValueError:
        raise Malformed("SNS Timestamp is not ISO 8601") from None
    if sent.tzinfo is None or now - sent > MAX_AGE or sent - now > MAX_SKEW:
        raise Forbidden("stale or future SNS Timestamp: refused")
    version = str(envelope.get("SignatureVersion"))
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # SNS's SignatureVersion 1 is SHA1withRSA
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise Forbidden(f"unsupported SNS SignatureVersion {version[:10]!r}")
    try:
        signature = base64.b64decode(str(envelope.get("Signature")), validate=True)
    except (binascii.Error, ValueError):
        raise Forbidden("SNS Signature is not base64") from None
    certificate = client.certificate(str(envelope.get("SigningCertURL")))
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise Forbidden("SNS signing certificate is out of date")
    key = certificate.public_key()
    if not isinstance(key, RSAPublicKey):
        raise Forbidden("SNS signing certificate has no RSA key")
    try:
        key.verify(signature, canonical, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise Forbidden("bad SNS signature") from None

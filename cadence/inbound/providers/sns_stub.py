"""A stand-in for Amazon SNS that ships with the adapter, as dramatiq ships StubBroker:
its own RSA key and self-signed certificate, an ``http_get`` that serves the certificate
and records subscription confirmations, and messages signed exactly as SNS signs them.

Tests and local trials use it; nothing here reaches the network.
"""

import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from cadence.inbound.providers.sns import SnsClient, string_to_sign


class SnsStub:
    """Signs SNS envelopes for ``topic`` with a certificate valid around ``now``."""

    def __init__(
        self,
        *,
        now: datetime,
        topic: str = "arn:aws:sns:us-east-1:123456789012:cadence-ses",
        region: str = "us-east-1",
    ) -> None:
        self.topic = topic
        self.cert_url = f"https://sns.{region}.amazonaws.com/SimpleNotificationService-stub{uuid.uuid4().hex}.pem"
        self.subscribe_url = (
            f"https://sns.{region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}"
            "&Token=2336412f37fb687f5d51e6e2425c464"
        )
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"sns.{region}.amazonaws.com")])
        self.certificate_pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=30))
            .not_valid_after(now + timedelta(days=365))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        self.fetched: list[str] = []

    def http_get(self, url: str) -> bytes:
        """Serves the certificate at :attr:`cert_url`, answers any other SNS URL (a
        subscription confirmation) with an empty body; every call is recorded."""
        self.fetched.append(url)
        if url.endswith(".pem"):
            if url != self.cert_url:
                raise OSError(f"404 for {url}")
            return self.certificate_pem
        return b"<ConfirmSubscriptionResponse/>"

    def client(self) -> SnsClient:
        return SnsClient(http_get=self.http_get)

    def envelope(
        self,
        message: dict[str, Any] | str,
        *,
        at: datetime,
        kind: str = "Notification",
        subject: str | None = None,
        version: str = "1",
        tamper: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A signed SNS message. ``fields`` set envelope fields before signing (a message
        SNS really sent); ``tamper`` changes them after (a forgery)."""
        envelope: dict[str, Any] = {
            "Type": kind,
            "MessageId": str(uuid.uuid4()),
            "TopicArn": self.topic,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "SignatureVersion": version,
            "SigningCertURL": self.cert_url,
        }
        if subject is not None:
            envelope["Subject"] = subject
        if kind != "Notification":
            envelope["Token"] = "2336412f37fb687f5d51e6e2425c464"
            envelope["SubscribeURL"] = self.subscribe_url
        else:
            envelope["UnsubscribeURL"] = (
                f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={self.topic}"
            )
        envelope.update(fields)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(string_to_sign(envelope), padding.PKCS1v15(), algorithm)
        envelope["Signature"] = base64.b64encode(signature).decode()
        envelope.update(tamper or {})
        return envelope

"""Rebuild an RFC 5322 message from a provider's parsed fields.

Providers that parse mail for us (SendGrid's parsed mode, Mailgun routes without
``body-mime``, Postmark without ``RawEmail``) still give the headers that matter for
matching (Message-ID, In-Reply-To, References, Auto-Submitted). Rebuilding lets one
classifier serve every way in, instead of a second one for JSON.
"""

import hashlib
import re
from collections.abc import Iterable
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, compat32

_NAME = re.compile(r"^[!-9;-~]{1,100}$")  # RFC 5322 field name: printable, no colon
#: The body we rebuild has its own structure; the original's would contradict it.
_BODY_HEADERS = {"content-type", "content-transfer-encoding", "mime-version", "content-length"}


def header_block(raw: str) -> list[tuple[str, str]]:
    """Name/value pairs from a raw header block (SendGrid's ``headers`` field)."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(
        raw.encode("utf-8", "surrogateescape") + b"\n\n"
    )
    return [(name, str(value)) for name, value in parsed.items()]


def rebuild_message(
    headers: Iterable[tuple[str, str]],
    *,
    text: str | None,
    html: str | None,
    defaults: Iterable[tuple[str, str]] = (),
) -> bytes:
    """A message with ``headers`` (unfolded; body headers dropped), then each of ``defaults``
    whose name is not among them, and a text and/or HTML body in UTF-8. The same input
    always gives the same bytes."""
    body = EmailMessage()
    if text and html:
        body.set_content(text)
        body.add_alternative(html, subtype="html")
        # A boundary from the content, so the same fields rebuild the same bytes (dedupe).
        digest = hashlib.sha256(f"{text}\0{html}".encode("utf-8", "replace")).hexdigest()
        body.set_boundary(f"=_cadence_{digest[:32]}")
    elif html:
        body.set_content(html, subtype="html")
    else:
        body.set_content(text or "")
    lines: list[str] = []
    seen: set[str] = set()
    for name, value in headers:
        if _usable(name):
            seen.add(name.strip().lower())
            lines.append(_line(name, value))
    for name, value in defaults:
        if _usable(name) and name.strip().lower() not in seen:
            lines.append(_line(name, value))
    rendered = body.as_bytes(policy=SMTP)
    head = "".join(f"{line}\r\n" for line in lines).encode("utf-8")
    return head + rendered


def _usable(name: str) -> bool:
    return bool(_NAME.match(name.strip())) and name.strip().lower() not in _BODY_HEADERS


def _line(name: str, value: str) -> str:
    return f"{name.strip()}: {' '.join(str(value).split())}"

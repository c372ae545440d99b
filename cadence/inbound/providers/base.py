"""Values every provider adapter shares: a provider's structured event and the refusals.

A provider either hands us a whole message (raw MIME bytes, classified by
:func:`cadence.inbound.processing.process_inbound`) or tells us what happened to one we sent
(a :class:`ProviderEvent`). Refusals carry the HTTP status the router answers with.
"""

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cadence.core.domain import EventKind
from cadence.core.errors import InputError


class WebhookRejected(InputError):
    """A webhook request refused before anything was stored."""

    status_code = 400


class Malformed(WebhookRejected):
    """The body is not the JSON or form the provider sends (400)."""


class Unauthorized(WebhookRejected):
    """Credentials are missing or wrong (401): the sender does not know our secret."""

    status_code = 401


class Forbidden(WebhookRejected):
    """Signed but refused (403): bad signature, stale, replayed, unknown topic or cert URL,
    or the provider is not configured."""

    status_code = 403


class TooLarge(WebhookRejected):
    """The body is over the size limit (413)."""

    status_code = 413


@dataclass(frozen=True)
class ProviderEvent:
    """What a provider reports about one recipient of a message we sent.

    ``kind`` is :attr:`EventKind.UNKNOWN` for events kept only for the record (deliveries,
    opens, subscription confirmations). ``event_id`` is the provider's own id, unique per
    provider, which makes redelivery a duplicate. ``message_id`` is the Message-ID header of
    our email with angle brackets, when the provider reports it. ``raw`` is this event's
    own JSON when the request carried several (else the request's body is stored).
    """

    provider: str
    kind: EventKind
    event_id: str
    recipient: str | None = None
    message_id: str | None = None
    occurred_at: datetime | None = None
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    raw: str | None = None


#: JSON tokens (strings, ``{``, ``[``, ``,``) a provider's document has at most. Each can
#: become a Python object many times its size (``{},`` is 3 bytes, a dict about 64), so a
#: body with more is refused before it is parsed, not after it has filled the memory.
MAX_JSON_TOKENS = 100_000

#: A whole string (escapes included), one of the tokens above, or a quote left open.
_TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"|[\[{,]|"')


def json_object(body: bytes, *, max_tokens: int = MAX_JSON_TOKENS) -> dict[str, Any]:
    """The body as a JSON object; :class:`Malformed` for anything else, refused at its
    first byte when that cannot open an object."""
    if not body.lstrip().startswith(b"{"):
        raise Malformed("expected a JSON object")
    value = json_value(body, max_tokens=max_tokens)
    if not isinstance(value, dict):
        raise Malformed("expected a JSON object")
    return value


def json_value(body: bytes, *, max_tokens: int = MAX_JSON_TOKENS) -> Any:
    """The body parsed, once it is known to hold at most ``max_tokens`` tokens
    (:class:`TooLarge` otherwise)."""
    count_tokens(body, max_tokens)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise Malformed(f"body is not valid JSON: {error}") from error


def count_tokens(body: bytes, limit: int) -> int:
    """The body's strings, ``{``, ``[`` and ``,``, counted without building anything and
    given up past ``limit`` (:class:`TooLarge`); a string never closed is :class:`Malformed`,
    since no parser would take it."""
    count = 0
    for match in _TOKEN.finditer(body):
        if match.end() - match.start() == 1 and body[match.start()] == 0x22:
            raise Malformed("body is not valid JSON: a string is never closed")
        count += 1
        if count > limit:
            raise TooLarge(f"more than {limit} JSON values: refused unparsed")
    return count


def text(value: Any, limit: int = 2000) -> str:
    """A provider field as a bounded string ('' for missing or non-scalar values, and for
    numbers that are not finite). NUL and lone surrogates, which no store or JSON encoder
    takes, are dropped."""
    if isinstance(value, str):
        bounded = value[:limit]
        if bounded.isascii() and "\x00" not in bounded:
            return bounded
        return "".join(c for c in bounded if c != "\x00" and not "\ud800" <= c <= "\udfff")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)[:limit]
    if isinstance(value, float) and math.isfinite(value):
        return str(value)[:limit]
    return ""


def address(value: Any) -> str | None:
    """A bare lower-cased address from a field such as ``"Ann <ann@x.example>"``."""
    raw = text(value, 500).strip()
    if "<" in raw and raw.endswith(">"):
        raw = raw[raw.rindex("<") + 1 : -1]
    raw = raw.strip().lower()
    return raw if "@" in raw and " " not in raw else None


def message_id(value: Any) -> str | None:
    """A Message-ID with its angle brackets, as our touches store it."""
    raw = text(value, 500).strip()
    if not raw:
        return None
    return raw if raw.startswith("<") else f"<{raw.strip('<>')}>"


def instant(value: Any, now: datetime) -> datetime:
    """A provider timestamp (Unix seconds or ISO 8601) when plausible (within 30 days of
    ``now``), else ``now``: a wrong clock at the provider must not reorder history."""
    found: datetime | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            found = datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            found = None
    elif isinstance(value, str) and value.strip():
        try:
            found = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            found = None
    if found is None or found.tzinfo is None or abs(found - now) > timedelta(days=30):
        return now
    return found.astimezone(UTC)


def obj(value: Any) -> dict[str, Any]:
    """A nested JSON object, or an empty one when the provider sent something else."""
    return value if isinstance(value, dict) else {}

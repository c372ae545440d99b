"""Why a delivery failed, and what that means for the address and for us.

A bounce's reason decides its effect, not its 5xx class: a 550 for "blocked using Spamhaus"
says nothing about the prospect's address. The reasons follow sisimai's public reason list,
in snake_case (README.md, "Bounces: reasons and effects"):

- ``hard`` only when the address itself is bad (:data:`ADDRESS_IS_BAD`);
- a rejection of the sender (:data:`REJECTS_SENDER`) is ``soft`` and flagged, so that it
  never suppresses the prospect;
- everything else is a temporary state of the recipient or of the path, ``soft``.

The wording decides first, the status code when the wording says nothing known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cadence.inbound.classification.reason_patterns import DELAY, REASON_PATTERNS
from cadence.inbound.classification.verdict import BounceKind

ADDRESS_IS_BAD = frozenset({"user_unknown", "host_unknown", "has_moved", "not_accept"})
REJECTS_SENDER = frozenset(
    {
        "blocked",
        "spam",
        "virus",
        "policy",
        "rejected",
        "authentication",
        "rate_limited",
        "no_relaying",
        "content_error",
    }
)
#: Every reason a bounce can be given, the table README.md documents.
REASONS = (
    *sorted(ADDRESS_IS_BAD),
    "mailbox_full",
    "suspended",
    "expired",
    "message_too_big",
    "network_error",
    "system_error",
    "mailer_error",
    *sorted(REJECTS_SENDER),
    "other",
)

ENHANCED_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_JUDGED_CHARS = 20_000
# Troubles of the path that a delay notice reports while the server keeps trying.
_PATH_TROUBLE = ("network_error", "mailer_error")
_CODE_EDGES = ' :(#["'
_BASIC_CODE = re.compile(r"(?:^|[\s:(#\[\"])([45])\d\d(?=[\s\-:)\"])", re.M)

# RFC 3463 subject.detail -> reason, for codes whose wording names nothing we know.
_CODE_REASONS = {
    "1.1": "user_unknown",
    "1.10": "user_unknown",
    "1.2": "host_unknown",
    "1.3": "user_unknown",
    "1.6": "has_moved",
    "1.7": "rejected",
    "1.8": "rejected",
    "2.1": "suspended",
    "2.2": "mailbox_full",
    "2.3": "message_too_big",
    "3.4": "message_too_big",
    "4.1": "network_error",
    "4.2": "network_error",
    "4.4": "host_unknown",
    "4.7": "expired",
    "7.1": "policy",
    "7.23": "authentication",
    "7.24": "authentication",
    "7.25": "authentication",
    "7.26": "authentication",
    "7.27": "authentication",
}
_CLASS_REASONS = {
    "3": "system_error",
    "4": "network_error",
    "5": "system_error",
    "6": "content_error",
    "7": "policy",
}


@dataclass(frozen=True)
class Judgement:
    """One failure, judged: ``bounce`` and ``rejects_sender`` follow from ``reason``."""

    bounce: BounceKind
    reason: str
    rejects_sender: bool
    detail: str


def first_code(text: str) -> str | None:
    """The first enhanced status code (``5.1.1``) in ``text``, skipping success codes."""
    for match in ENHANCED_CODE.finditer(text):
        if match.group(1) != "2":
            return ".".join(match.groups())
    return None


def _reason_from_code(code: str) -> str | None:
    _, subject, detail = code.split(".")
    return _CODE_REASONS.get(f"{subject}.{detail}") or _CLASS_REASONS.get(subject)


def reason_of(text: str, code: str | None = None) -> tuple[str, str]:
    """The reason ``text`` (and its status ``code``) states, with the words that said so."""
    for reason, pattern in REASON_PATTERNS:
        match = pattern.search(text)
        if match:
            return reason, match.group(0).strip().lower()
    if code is not None:
        from_code = _reason_from_code(code)
        if from_code is not None:
            return from_code, code
    return "other", code or ""


def _temporary(text: str, code: str | None, delayed: bool, reason: str) -> bool:
    """Whether the server still tries: a DSN ``delayed``, a 4.x.x or 4xx code, or (without
    any code) "will retry" wording beside a reason that leaves the address in doubt."""
    if delayed or (code is not None and code.startswith("4")):
        return True
    if code is not None:
        return False
    basic = _BASIC_CODE.search(text)
    if basic is not None:
        return basic.group(1) == "4"
    return DELAY.search(text) is not None and reason not in ADDRESS_IS_BAD


def judge(text: str, *, code: str | None = None, delayed: bool = False) -> Judgement:
    """Judge a failure described by ``text`` (a DSN's diagnostic, or a text bounce's words).

    ``delayed`` is a DSN's ``Action: delayed``. A failure the server still retries is never
    hard, and unless its words name a reason (a full mailbox, a rejection of us) it is
    ``expired``: what the path's trouble or a bare status code says is no reason yet.
    """
    text = " ".join(text[:_JUDGED_CHARS].split())
    code = code or first_code(text)
    reason, detail = reason_of(text, code)
    temporary = _temporary(text, code, delayed, reason)
    vague = reason in ("other", "system_error") or detail == code
    if temporary and (vague or (delayed and reason in _PATH_TROUBLE)):
        delay = DELAY.search(text)
        reason, detail = "expired", detail or (delay.group(0).lower() if delay else "delayed")
    if code is None and reason == "other":
        basic = _BASIC_CODE.search(text)
        detail = f"SMTP {basic.group(0).strip(_CODE_EDGES)}" if basic else "undeliverable"
    shown = f"{code} {reason}" if code and code not in detail else reason
    return Judgement(
        bounce="hard" if reason in ADDRESS_IS_BAD and not temporary else "soft",
        reason=reason,
        rejects_sender=reason in REJECTS_SENDER,
        detail=f"{shown} ({detail})" if detail and detail != code else shown,
    )

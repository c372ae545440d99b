"""Inbound mail: store it raw, classify it (pure), match it to a prospect, apply it.

Matching tries the Message-IDs we sent first (In-Reply-To, References, or the original
embedded in a bounce), then the bounced or complaining address, then the sender. Mail that
matches nobody is kept as an unmatched event for review.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from typing import Any

from sqlmodel import Session, col, select

from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import EventKind
from cadence.core.geography import time_zone
from cadence.core.scheduling import add_business_days
from cadence.inbound.classification import Verdict, classify_message
from cadence.runtime.context import AppContext
from cadence.sequences.events import apply_stored_event, store_event
from cadence.store.database import transaction
from cadence.store.models import Event, Prospect, Touch

#: Larger messages are refused whole: no real reply or bounce report is this big.
MAX_MESSAGE_BYTES = 20 * 1024 * 1024
#: Out-of-office with no return date found: pick the sequence up this many business days on.
DEFAULT_OOO_BUSINESS_DAYS = 5

_KINDS = {
    "reply": EventKind.REPLY,
    "auto_reply": EventKind.AUTO_REPLY,
    # A challenge-response request pauses nothing: kept for review like unknown mail.
    "challenge": EventKind.UNKNOWN,
    "complaint": EventKind.COMPLAINT,
    "unsubscribe": EventKind.UNSUBSCRIBE,
    "unknown": EventKind.UNKNOWN,
}


@dataclass
class InboundResult:
    file: str
    kind: str
    bounce: str | None
    bounce_reason: str | None
    addresses: list[str]
    prospect: str | None
    return_date: str | None
    reply_text: str | None
    reason: str = ""
    event_id: int | None = None
    duplicate: bool = False
    rejects_sender: bool = False
    effects: dict[str, list[int]] = field(default_factory=dict)

    def contract_json(self) -> dict[str, Any]:
        """The fields of ``cadence inbound --json``: scripts read them, so names do not change."""
        return {
            "file": self.file,
            "kind": self.kind,
            "bounce": self.bounce,
            "bounce_reason": self.bounce_reason,
            "addresses": self.addresses,
            "prospect": self.prospect,
            "return_date": self.return_date,
            "reply_text": self.reply_text,
        }


def dedupe_key(raw: bytes) -> str:
    """The provider's Message-ID when there is one, else the content's hash."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536])
        message_id = str(headers.get("Message-ID", "") or "").replace("\x00", "").strip()
    except Exception:  # noqa: BLE001 - malformed headers fall back to the hash
        message_id = ""
    if message_id and len(message_id) < 500:
        return f"mid:{message_id}"
    return f"sha256:{hashlib.sha256(raw).hexdigest()}"


def received_time(raw: bytes, now: datetime) -> datetime:
    """The message's Date when it is plausible (within 30 days of now), else now."""
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(raw[:65536])
        stamped = parsedate_to_datetime(str(headers.get("Date", "")))
    except Exception:  # noqa: BLE001 - no or broken Date header
        return now
    if stamped.tzinfo is None or abs(stamped - now) > timedelta(days=30):
        return now
    return stamped.astimezone(UTC)


def match_prospect(session: Session, verdict: Verdict) -> Prospect | None:
    """The prospect the message is about: the one our cited Message-ID went to, else (for
    mail that is not a report) the one it names or comes from.

    A bounce or complaint counts only through a Message-ID Cadence sent: anyone can write a
    report naming someone else's address, and it would halt and suppress them. One that
    cites none of ours is kept unmatched, for a person to review."""
    references = [r for r in verdict.references if "\x00" not in r]
    if references:
        touch = session.exec(select(Touch).where(col(Touch.message_id).in_(references))).first()
        if touch is not None:
            return session.get(Prospect, touch.prospect_id)
    if verdict.kind in ("bounce", "complaint"):
        return None
    candidates = list(verdict.addresses)
    if verdict.sender:
        candidates.append(verdict.sender)
    for address in (a for a in candidates if "\x00" not in a):
        prospect = session.exec(select(Prospect).where(Prospect.email == address.lower())).first()
        if prospect is not None:
            return prospect
    return None


def stored_text(raw: bytes) -> tuple[str, str]:
    """Text for the store that gives back the exact bytes: UTF-8 when it is, else Latin-1
    (every byte maps to one character). NUL bytes, which PostgreSQL text refuses, are
    escaped."""
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = raw.decode("latin-1"), "latin-1"
    if "\x00" in text:
        return text.replace("\\", "\\\\").replace("\x00", "\\0"), f"{encoding}+nul-escaped"
    return text, encoding


#: A return date further out than this is taken for a misreading (a past date pushed into
#: next year, a stale auto-reply read late), and the default pause applies instead.
MAX_OUT_OF_OFFICE = timedelta(days=183)


def resume_time(verdict: Verdict, prospect: Prospect, received: datetime) -> datetime:
    """The morning the prospect is back, in their zone; a default when the text gives none
    or a date too far out to trust."""
    zone = time_zone(prospect.timezone)
    today = received.astimezone(zone).date()
    back: date | None = verdict.return_date
    if back is None or back < today or back - today > MAX_OUT_OF_OFFICE:
        calendar = BusinessCalendar(prospect.country)
        back = add_business_days(today, DEFAULT_OOO_BUSINESS_DAYS, calendar)
    return datetime.combine(back, time(6, 0), tzinfo=zone).astimezone(UTC)


def process_inbound(
    ctx: AppContext,
    raw: bytes,
    *,
    label: str,
    source: str = "inbound",
    dry_run: bool = False,
    verdict: Verdict | None = None,
) -> InboundResult:
    """Store the raw message (its own commit), then classify, match and apply it.

    If anything after the first commit fails, the raw message is still in the store as an
    ``unknown`` event, not applied; the same message read again (a mailbox re-read after a
    crash, a provider's retry) is applied then, once: a duplicate only once applied.
    ``verdict`` is the message's classification when the caller has made it already (the
    mailbox reader classifies to decide whether to store at all).
    """
    now = ctx.clock.now()
    received = received_time(raw, now)
    event_id: int | None = None
    if not dry_run:
        text, encoding = stored_text(raw)
        with transaction(ctx.engine) as session:
            event, duplicate = store_event(
                session,
                kind=EventKind.UNKNOWN,
                prospect=None,
                now=now,
                occurred_at=received,
                source=source,
                raw=text,
                detail={"raw_encoding": encoding, "applied": False},
                dedupe_key=dedupe_key(raw),
            )
            event_id = event.id
            # Stored before but never applied (the process died between the two commits):
            # apply it now, or the reply it holds would never halt anything.
            if duplicate and event.detail.get("applied") is False:
                duplicate = False
    else:
        duplicate = False
    if verdict is None:
        verdict = classify_message(raw[:MAX_MESSAGE_BYTES], received_at=received)
    with transaction(ctx.engine) as session:
        prospect = match_prospect(session, verdict)
        result = InboundResult(
            file=label,
            kind=verdict.kind,
            bounce=verdict.bounce,
            bounce_reason=verdict.bounce_reason,
            addresses=list(verdict.addresses),
            prospect=prospect.email if prospect else None,
            return_date=verdict.return_date.isoformat() if verdict.return_date else None,
            reply_text=verdict.reply_text,
            reason=verdict.reason,
            event_id=event_id,
            duplicate=duplicate,
            rejects_sender=verdict.rejects_sender,
        )
        if dry_run or duplicate or event_id is None:
            return result
        if verdict.kind == "bounce" and verdict.rejects_sender:
            kind = EventKind.SENDER_REJECTED
        elif verdict.kind == "bounce":
            kind = EventKind.BOUNCE if verdict.bounce == "hard" else EventKind.SOFT_BOUNCE
        else:
            kind = _KINDS[verdict.kind]
        stored = session.get(Event, event_id, with_for_update=True, populate_existing=True)
        assert stored is not None
        if stored.detail.get("applied") is True:  # another process applied it meanwhile
            result.duplicate = True
            return result
        stored.kind = kind
        stored.prospect_id = prospect.id if prospect else None
        stored.detail = {
            **stored.detail,
            "applied": True,
            "verdict": verdict.kind,
            "bounce": verdict.bounce,
            "bounce_reason": verdict.bounce_reason,
            "rejects_sender": verdict.rejects_sender,
            "addresses": list(verdict.addresses),
            "references": list(verdict.references),
            "return_date": result.return_date,
            "matched": prospect is not None,
        }
        session.add(stored)
        session.flush()
        outcome = apply_stored_event(
            session,
            ctx.catalog,
            event_id,
            now=now,
            reason=f"{verdict.kind}: {verdict.reason}"[:500],
            resume_at=resume_time(verdict, prospect, received)
            if prospect is not None and kind is EventKind.AUTO_REPLY
            else None,
        )
        result.effects = {
            "halted": outcome.halted,
            "paused": outcome.paused,
            "resumed": outcome.resumed,
        }
    return result

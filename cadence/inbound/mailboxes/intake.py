"""What happens to one message read from an SDR's mailbox, decided before anything is
stored: the rep's mailbox holds their private mail too, and only what concerns our prospects
may enter the store.

A message goes into the inbound path (:func:`process_inbound`, exactly as a webhook's: raw
kept first, de-duplicated by Message-ID) when it cites a Message-ID we sent or comes from, or
bounces for, a prospect's address. The rep's own messages (their sent copies, their drafts)
are never taken for replies, and everything else is neither stored nor, when its headers
already show it concerns no prospect, read past its headers.
"""

from collections.abc import Sequence
from email.message import Message
from email.parser import BytesHeaderParser
from enum import StrEnum

from sqlmodel import Session, col, select

from cadence.inbound.classification import Verdict, classify_message
from cadence.inbound.classification.bounce_signs import may_be_a_report
from cadence.inbound.classification.classify import thread_references
from cadence.inbound.classification.mime_text import address, header
from cadence.inbound.processing import (
    MAX_MESSAGE_BYTES,
    match_prospect,
    process_inbound,
    received_time,
)
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import Prospect, Touch

#: How much of a message is parsed for its headers (a hostile header may be longer).
HEADER_SCAN_BYTES = 256 * 1024


class Intake(StrEnum):
    #: Went into the inbound path as a new event.
    STORED = "stored"
    #: Already in the store (the same Message-ID read before, or from another folder).
    DUPLICATE = "duplicate"
    #: Written by the SDR (a sent copy): never a prospect's reply.
    OWN = "own"
    #: Concerns no prospect and cites none of our messages: the rep's mail, not stored.
    PRIVATE = "private"


def concerns_a_prospect(session: Session, verdict: Verdict) -> bool:
    """Whether the message cites a Message-ID we sent or matches a prospect by address."""
    if match_prospect(session, verdict) is not None:
        return True
    return _cites_our_mail(session, verdict.references)


def worth_reading(session: Session, head: Message, sender: str | None) -> bool:
    """Whether a message is worth classifying, by its headers alone: it is in a thread of
    ours, comes from a prospect, or may be a bounce or complaint. The rest is the rep's mail,
    and its body is never read."""
    if _cites_our_mail(session, thread_references(head)):
        return True
    if sender is not None:
        found = session.exec(select(Prospect.id).where(Prospect.email == sender).limit(1))
        if found.first() is not None:
            return True
    return may_be_a_report(head)


def take_in(
    ctx: AppContext, raw: bytes, *, owner: str, own_addresses: frozenset[str], label: str
) -> Intake:
    """Decide from the headers, then classify ``raw`` and, when it concerns a prospect,
    store and apply it (its own transactions, as :func:`process_inbound` commits);
    idempotent by Message-ID."""
    head = BytesHeaderParser().parsebytes(raw[:HEADER_SCAN_BYTES])
    sender = address(header(head, "From"))
    if sender is not None and sender in own_addresses:
        return Intake.OWN
    with transaction(ctx.engine) as session:
        if not worth_reading(session, head, sender):
            return Intake.PRIVATE
    received = received_time(raw, ctx.clock.now())
    verdict = classify_message(raw[:MAX_MESSAGE_BYTES], received_at=received)
    with transaction(ctx.engine) as session:
        keep = concerns_a_prospect(session, verdict)
    if not keep:
        return Intake.PRIVATE
    result = process_inbound(ctx, raw, label=label, source=f"mailbox:{owner}", verdict=verdict)
    return Intake.DUPLICATE if result.duplicate else Intake.STORED


def _cites_our_mail(session: Session, references: Sequence[str]) -> bool:
    if not references:
        return False
    ours = session.exec(
        select(Touch.id).where(col(Touch.message_id).in_(list(references))).limit(1)
    ).first()
    return ours is not None

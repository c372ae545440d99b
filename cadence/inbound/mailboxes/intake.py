"""What happens to one message read from an SDR's mailbox, decided before anything is
stored: the rep's mailbox holds their private mail too, and only what concerns our prospects
may enter the store.

A message goes into the inbound path (:func:`process_inbound`, exactly as a webhook's: raw
kept first, de-duplicated by Message-ID) when it cites a Message-ID we sent or comes from, or
bounces for, a prospect's address. The rep's own messages (their sent copies, their drafts)
are never taken for replies, and everything else is left unread in the store's eyes.
"""

from enum import StrEnum

from sqlmodel import Session, col, select

from cadence.inbound.classification import Verdict, classify_message
from cadence.inbound.processing import (
    MAX_MESSAGE_BYTES,
    match_prospect,
    process_inbound,
    received_time,
)
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import Touch


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
    if not verdict.references:
        return False
    ours = session.exec(
        select(Touch.id).where(col(Touch.message_id).in_(list(verdict.references))).limit(1)
    ).first()
    return ours is not None


def take_in(
    ctx: AppContext, raw: bytes, *, owner: str, own_addresses: frozenset[str], label: str
) -> Intake:
    """Classify ``raw`` and, when it concerns a prospect, store and apply it (its own
    transactions, as :func:`process_inbound` commits); idempotent by Message-ID."""
    received = received_time(raw, ctx.clock.now())
    verdict = classify_message(raw[:MAX_MESSAGE_BYTES], received_at=received)
    if verdict.sender is not None and verdict.sender.lower() in own_addresses:
        return Intake.OWN
    with transaction(ctx.engine) as session:
        keep = concerns_a_prospect(session, verdict)
    if not keep:
        return Intake.PRIVATE
    result = process_inbound(ctx, raw, label=label, source=f"mailbox:{owner}", verdict=verdict)
    return Intake.DUPLICATE if result.duplicate else Intake.STORED

"""A reply-thread step's parent: the last email sent in its enrollment before it, read once
for the batch, and the mailbox that email left from, which the reply leaves from too (the
prospect answers one person's thread, whoever owns the enrollment since)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from cadence.core.domain import TouchStatus
from cadence.delivery.compose import ThreadParent
from cadence.store.models import TOUCHES
from cadence.store.sql_lists import in_list


@dataclass(frozen=True)
class SentEmail:
    message_id: str | None
    references: str | None
    subject: str | None
    body: str | None
    sent_at: datetime | None
    #: The SDR it left as (None for emails sent before the store recorded it).
    mailbox: str | None


#: By enrollment only, the channel and status checked here: with them in the query SQLite's
#: planner (no statistics) took the status index and read every sent touch of the store at
#: every batch.
_SENT_EMAILS = select(
    TOUCHES.c.enrollment_id,
    TOUCHES.c.step,
    TOUCHES.c.channel,
    TOUCHES.c.status,
    TOUCHES.c.message_id,
    TOUCHES.c.references,
    TOUCHES.c.subject,
    TOUCHES.c.body,
    TOUCHES.c.sent_at,
    TOUCHES.c.mailbox,
).where(in_list(TOUCHES.c.enrollment_id, "ids"))

#: Per enrollment, its sent emails by step.
SentEmails = Mapping[int, Mapping[int, SentEmail]]


def sent_emails(session: Session, enrollment_ids: Iterable[int]) -> dict[int, dict[int, SentEmail]]:
    """The sent emails of the enrollments with a reply-thread step in the batch, in one
    query (one a touch before): the parent each reply quotes is among them."""
    wanted = set(enrollment_ids)
    found: dict[int, dict[int, SentEmail]] = {}
    if not wanted:
        return found
    rows = session.connection().execute(_SENT_EMAILS, {"ids": list(wanted)})
    for enrollment_id, step, channel, status, *fields in rows:
        if channel == "email" and status == TouchStatus.SENT:
            found.setdefault(enrollment_id, {})[step] = SentEmail(*fields)
    return found


def parent_email(sent: SentEmails, enrollment_id: int, step: int) -> SentEmail | None:
    """The last email sent in this enrollment before ``step``, if it can be replied to."""
    earlier = sent.get(enrollment_id, {})
    steps = [s for s in earlier if s < step]
    parent = earlier[max(steps)] if steps else None
    if parent is None or parent.message_id is None or parent.sent_at is None:
        return None
    return parent


def thread_parent(parent: SentEmail, sender_display: str) -> ThreadParent:
    assert parent.message_id is not None and parent.sent_at is not None
    return ThreadParent(
        message_id=parent.message_id,
        references=tuple((parent.references or "").split()),
        subject=parent.subject or "",
        body=parent.body or "",
        sent_at=parent.sent_at,
        sender_display=sender_display,
    )

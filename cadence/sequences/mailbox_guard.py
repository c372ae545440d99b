"""The deliverability guard: a mailbox whose hard bounces or complaints over its recent
sends pass their limits pauses until a person resumes it.

Counted when a bounce or complaint is recorded (:func:`count_event`, from the event's
effect), which marks the mailbox; judged at the scheduler's next tick
(:func:`pause_over_limits`, where the settings are), only for marked mailboxes: no cost on
a send's path, and a tick with nothing marked asks one more question in the read it makes
anyway. The window is the last ``CADENCE_MAILBOX_GUARD_DAYS`` UTC days of sends; each
bounce or complaint counts on the day of the email it answers."""

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from cadence.authoring.catalog import Catalog
from cadence.core.domain import EventKind
from cadence.core.errors import InputError
from cadence.core.mailbox_rules import DeliverabilityLimits, guard_verdict
from cadence.runtime.context import AppContext
from cadence.runtime.settings import Settings
from cadence.store.database import reading, transaction
from cadence.store.mailbox_deliverability import (
    BadOutcome,
    count_bad_outcome,
    delivery_records,
    forgive,
    take_guard_marks,
)
from cadence.store.mailbox_health import MailboxHealth, resume, set_health

log = logging.getLogger(__name__)

_COUNTED: dict[EventKind, BadOutcome] = {
    EventKind.BOUNCE: "hard_bounces",
    EventKind.COMPLAINT: "complaints",
    EventKind.SENDER_REJECTED: "rejections",
}


def guard_limits(settings: Settings) -> DeliverabilityLimits:
    return DeliverabilityLimits(
        max_hard_bounce_rate=settings.mailbox_max_hard_bounce_rate,
        max_complaint_rate=settings.mailbox_max_complaint_rate,
        max_rejection_rate=settings.mailbox_max_rejection_rate,
        min_sends=settings.mailbox_guard_min_sends,
        window_days=settings.mailbox_guard_days,
    )


def window_start(limits: DeliverabilityLimits, now: datetime) -> datetime:
    """The first instant of the window's first UTC day (today is one of its days)."""
    return now - timedelta(days=limits.window_days - 1)


def count_event(session: Session, prospect_id: int, kind: EventKind, *, now: datetime) -> None:
    """A hard bounce or complaint recorded for the prospect: counted against the mailbox
    that last emailed them. Other kinds (a soft bounce, even a third) count nothing."""
    what = _COUNTED.get(kind)
    if what is not None:
        count_bad_outcome(session, prospect_id, what, now=now)


def pause_over_limits(ctx: AppContext) -> list[str]:
    """Judge the mailboxes marked since the last time, and pause each whose rates are over
    the limits; the names paused now."""
    now = ctx.clock.now()
    limits = guard_limits(ctx.settings)
    with transaction(ctx.engine) as session:
        marked = take_guard_marks(session)
    with reading(ctx.engine) as connection:
        records = delivery_records(connection, marked, since=window_start(limits, now).date())
    over = {owner: why for owner, r in records.items() if (why := guard_verdict(r, limits))}
    if not over:
        return []
    with transaction(ctx.engine) as session:
        for owner in sorted(over):
            set_health(session, owner, MailboxHealth.PAUSED, reason=over[owner], now=now)
    for owner in sorted(over):
        log.warning("mailbox %s paused: %s", owner, over[owner])
    return sorted(over)


def resume_mailbox(
    session: Session,
    catalog: Catalog,
    name: str,
    *,
    now: datetime,
    actor: str,
    limits: DeliverabilityLimits,
) -> bool:
    """A person's word that ``name``'s mailbox may send again, whatever stopped it; the
    guard counts afresh from now. False when it was not stopped."""
    names = [sender.name for sender in catalog.team.sdr]
    if name not in names:
        raise InputError(f"no SDR named {name!r} in team.toml; known: {', '.join(names)}")
    resumed = resume(session, name, now=now, actor=actor)
    if resumed:
        forgive(session, name, since=window_start(limits, now).date())
    return resumed

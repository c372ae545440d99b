"""A batch's touches checked, rendered and composed: what each makes now (an email, a task, or
why not), from rows read once for the batch, with no writes, so on PostgreSQL a batch is
prepared before its claim takes any lock (:func:`prepared_batch`)."""

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from cadence.authoring.config_files import Sender
from cadence.authoring.render_context import template_context
from cadence.authoring.rendering import RenderedContent
from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import (
    CadenceDefinition,
    EnrollmentState,
    Step,
    Thread,
    TouchStatus,
)
from cadence.core.errors import RenderError
from cadence.core.geography import time_zone
from cadence.core.holds import why_held
from cadence.core.outcomes import TouchOutcome
from cadence.delivery.compose import (
    OutgoingEmail,
    ThreadParent,
    compose,
    new_message_id,
    quote_below,
    reply_subject,
)
from cadence.delivery.send_limits import Reservation
from cadence.runtime.context import AppContext
from cadence.store.database import is_postgres
from cadence.store.models import TOUCHES, Enrollment, Touch
from cadence.store.rows import (
    EnrollmentView,
    ProspectView,
    TouchView,
    batch_views,
    model_of,
    prospect_views,
    same_row,
)
from cadence.store.sql_lists import in_list
from cadence.store.suppressions import suppression_reasons

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TouchWork:
    """One touch being claimed, with everything its checks and its rendering read."""

    touch: TouchView
    enrollment: EnrollmentView
    prospect: ProspectView
    cadence: CadenceDefinition
    step: Step
    sender: Sender
    now: datetime


@dataclass(frozen=True)
class SentEmail:
    message_id: str | None
    references: str | None
    subject: str | None
    body: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class BatchFacts:
    """What the batch's checks read once for all its touches."""

    suppressed: Mapping[str, str]
    #: Per enrollment, its sent emails by step, for the batch's reply-thread steps.
    sent_emails: Mapping[int, Mapping[int, SentEmail]]


def touch_row(touch_id: int, **values: Any) -> dict[str, Any]:
    """One touch's parameters for a :func:`_by_id` statement."""
    return {"touch_id": touch_id, **{f"new_{k}": v for k, v in values.items()}}


def started_row(work: "TouchWork", rendered: "RenderedTouch", **values: Any) -> dict[str, Any]:
    """A touch that starts now: one more attempt, made with this template version."""
    assert work.touch.id is not None
    return touch_row(
        work.touch.id,
        attempts=work.touch.attempts + 1,
        started_at=work.now,
        template_version=rendered.template_version,
        **values,
    )


#: By enrollment only, the channel and status checked here: with them in the query SQLite's
#: planner (no statistics) took the status index and read every sent touch of the store,
#: 20 ms a batch at 5,000 prospects.
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
).where(in_list(TOUCHES.c.enrollment_id, "ids"))


def _sent_emails(session: Session, works: list[TouchWork]) -> dict[int, dict[int, SentEmail]]:
    """The sent emails of every enrollment with a reply-thread step in the batch, in one
    query (one a touch before): the parent each reply quotes is among them."""
    enrollment_ids = {w.touch.enrollment_id for w in works if w.step.thread is Thread.REPLY}
    found: dict[int, dict[int, SentEmail]] = {}
    if not enrollment_ids:
        return found
    rows = session.connection().execute(_SENT_EMAILS, {"ids": list(enrollment_ids)})
    for enrollment_id, step, channel, status, *fields in rows:
        if channel == "email" and status == TouchStatus.SENT:
            found.setdefault(enrollment_id, {})[step] = SentEmail(*fields)
    return found


@dataclass(frozen=True)
class ReadyTask:
    """A call or LinkedIn step rendered, to be issued as the owner's task."""

    work: TouchWork
    rendered: "RenderedTouch"


@dataclass(frozen=True)
class PreparedBatch:
    """A batch checked, rendered and composed before its claim, from rows read without
    locks, with the sends reserved for its emails. The claim uses a touch's result only if
    its touch and enrollment rows, once locked, are as they were read here (same rows,
    same clock), and holds its locks for a few statements instead of the batch's rendering.

    The other inputs are not compared, and need not be. Prospect rows were never locked by
    a claim: an edit (a re-import moving a prospect's time zone, say) committed a moment
    before the claim's read or a moment after made the same race, now a render long
    instead of a statement long. Whatever must stop a touch (a reply, bounce or unsubscribe
    suppressing the address or marking it invalid) halts the enrollment in the same
    transaction, which the comparison sees. A reply step's parent is an earlier step of the
    same enrollment, sent before this touch was planned."""

    reservation: Reservation
    ready: Mapping[int, "ComposedEmail | ReadyTask"] = field(default_factory=dict)

    def reusable_for(
        self, touch: TouchView, enrollment: EnrollmentView
    ) -> "ComposedEmail | ReadyTask | None":
        assert touch.id is not None
        ready = self.ready.get(touch.id)
        if ready is None:
            return None
        work = ready.work
        if same_row(work.touch, touch) and same_row(work.enrollment, enrollment):
            return ready
        return None


@contextmanager
def prepared_batch(ctx: AppContext, touch_ids: Sequence[int]) -> Iterator[PreparedBatch]:
    """The batch prepared for its claim (PostgreSQL), the unused sends given back when the
    claim ends. On SQLite nothing is prepared: its one write lock serializes claims and
    halts whatever a claim holds it for, and reading the batch twice would only cost."""
    now = ctx.clock.now()
    if not is_postgres(ctx.engine):
        yield PreparedBatch(Reservation.none(now))
        return
    with ctx.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        with Session(connection) as reader:
            ready = _prepare(ctx, reader, touch_ids, now)
        senders = [r.work.sender for r in ready.values() if isinstance(r, ComposedEmail)]
        reservation = Reservation.take_ahead(connection, senders, now=now)
    try:
        yield PreparedBatch(reservation, ready)
    except BaseException:
        reservation.untake()
        raise
    finally:
        try:
            reservation.give_back(ctx.engine)
        except SQLAlchemyError:  # never the claim's failure: its emails are committed now
            log.warning("unused sends reserved for a claim stay counted", exc_info=True)


def _prepare(
    ctx: AppContext, reader: Session, touch_ids: Sequence[int], now: datetime
) -> dict[int, "ComposedEmail | ReadyTask"]:
    """What each touch that may start now renders and composes to; the rest (held back,
    failing, already taken) are left to the claim, which records why under its locks."""
    found, prospects = batch_views(reader, touch_ids)
    attempts = attempts_for(ctx, reader, claimable(found.values()), now, prospects)
    return {i: a for i, a in attempts.items() if not isinstance(a, NotNow)}


def claimable(
    found: Iterable[tuple[TouchView, EnrollmentView]],
) -> list[tuple[TouchView, EnrollmentView]]:
    return [
        (touch, enrollment)
        for touch, enrollment in found
        if touch.status == TouchStatus.QUEUED and enrollment.state == EnrollmentState.ACTIVE
    ]


def attempts_for(
    ctx: AppContext,
    session: Session,
    pairs: Sequence[tuple[TouchView, EnrollmentView]],
    now: datetime,
    prospects: Mapping[int, ProspectView] | None = None,
) -> dict[int, "ComposedEmail | ReadyTask | NotNow"]:
    """By touch id, what each claimable touch makes now (:func:`_attempt`), with the rows
    its checks read (prospects, unless given; suppressions, sent emails) read once for all
    of them."""
    if not pairs:
        return {}
    if prospects is None:
        prospects = prospect_views(session, {t.prospect_id for t, _ in pairs})
    works = []
    for touch, enrollment in pairs:
        cadence = ctx.catalog.cadence(enrollment.cadence)
        works.append(
            TouchWork(
                touch,
                enrollment,
                prospects[touch.prospect_id],
                cadence,
                cadence.step(touch.step),
                ctx.catalog.team.sender(enrollment.owner),
                now,
            )
        )
    batch = BatchFacts(
        suppressed=suppression_reasons(session, [w.prospect.email for w in works]),
        sent_emails=_sent_emails(session, works),
    )
    attempts = {}
    for work in works:
        assert work.touch.id is not None
        attempts[work.touch.id] = _attempt(ctx, work, batch)
    return attempts


@dataclass(frozen=True)
class ComposedEmail:
    """An email ready to start, once its mailbox's allowance has a send for it."""

    work: TouchWork
    row: dict[str, Any]
    message: EmailMessage

    @property
    def touch_id(self) -> int:
        assert self.work.touch.id is not None
        return self.work.touch.id


@dataclass(frozen=True)
class NotNow:
    work: TouchWork
    outcome: TouchOutcome
    reason: str | None
    #: The no-thread skip records the template version it rendered.
    rendered: "RenderedTouch | None" = None


def _attempt(
    ctx: AppContext, work: TouchWork, batch: BatchFacts
) -> "ComposedEmail | ReadyTask | NotNow":
    """What the touch makes now: an email composed, a task rendered, or why not. No writes,
    so a batch can be prepared before its claim locks anything."""
    held = _why_held(work, batch)
    if held is not None:
        return held
    rendered = _render(ctx, work)
    if isinstance(rendered, NotNow):
        return rendered
    if work.step.kind.is_task:
        return ReadyTask(work, rendered)
    return _compose_email(ctx, work, rendered, batch)


def touch_models(session: Session, work: TouchWork) -> tuple[Touch, Enrollment]:
    return (
        model_of(session, Touch, work.touch.id),
        model_of(session, Enrollment, work.enrollment.id),
    )


def _why_held(work: TouchWork, batch: BatchFacts) -> NotNow | None:
    """The core's hold rule (:func:`cadence.core.holds.why_held`) applied to this touch."""
    prospect = work.prospect
    hold = why_held(
        now=work.now,
        window=work.cadence.window_for(work.step),
        zone=time_zone(prospect.timezone),
        calendar=BusinessCalendar(prospect.country) if work.cadence.business_days else None,
        prospect=prospect,
        suppressed=batch.suppressed.get(prospect.email),
        attempts=work.touch.attempts,
        last_reason=work.touch.reason,
    )
    return None if hold is None else NotNow(work, hold.outcome, hold.reason)


@dataclass(frozen=True)
class RenderedTouch:
    content: RenderedContent
    template_version: str


def _render(ctx: AppContext, work: TouchWork) -> "RenderedTouch | NotNow":
    """The touch's text for this prospect; a blocked, missing or failing template fails the
    touch and pauses the enrollment (:func:`record_not_now`), and nothing is sent."""
    touch = work.touch
    if touch.template in ctx.catalog.blocked:
        why = f"template {touch.template} fails lint ({ctx.catalog.blocked[touch.template]}); "
        return NotNow(work, TouchOutcome.FAILED_LINT, why + "fix it and resume")
    template = ctx.catalog.templates.get(touch.template)
    if template is None:
        why = f"template {touch.template!r} no longer exists"
        return NotNow(work, TouchOutcome.FAILED_TEMPLATE, why)
    context = template_context(
        work.prospect,
        ctx.catalog,
        work.sender,
        unsubscribe_url=_unsubscribe_url(ctx, work),
        cadence=work.cadence.name,
        step=work.step.number,
    )
    try:
        rendered = ctx.catalog.renderer.render(touch.template, context)
    except RenderError as exc:
        return NotNow(work, TouchOutcome.FAILED_RENDER, f"render failed: {exc}")
    return RenderedTouch(rendered, template.version)


def _unsubscribe_url(ctx: AppContext, work: TouchWork) -> str:
    base = ctx.settings.public_url.rstrip("/")
    return f"{base}/unsubscribe/{work.prospect.unsubscribe_token}"


def _compose_email(
    ctx: AppContext, work: TouchWork, rendered: RenderedTouch, batch: BatchFacts
) -> "ComposedEmail | NotNow":
    """Thread, quote and compose the email; if its mailbox may send it, the touch is
    ``sending`` with its Message-ID when the claim commits, before anything leaves."""
    touch, prospect, sender, now = work.touch, work.prospect, work.sender, work.now
    assert touch.id is not None
    display = f"{sender.full_name} <{sender.email}>"
    replying = work.step.thread is Thread.REPLY
    parent = _thread_parent(batch, touch, display) if replying else None
    if replying and parent is None:
        why = "reply step has no earlier sent email in this enrollment to reply to"
        return NotNow(work, TouchOutcome.SKIPPED_NO_THREAD, why, rendered)
    subject = rendered.content.subject or ""
    body = rendered.content.body
    if parent is not None:
        subject = rendered.content.subject or reply_subject(parent.subject)
        body = quote_below(rendered.content.body, parent)
    domain = ctx.catalog.team.company.domain
    message_id = touch.message_id or new_message_id(touch.id, domain)
    row = started_row(
        work,
        rendered,
        status=TouchStatus.SENDING.value,
        message_id=message_id,
        subject=subject,
        body=body,
        in_reply_to=parent.message_id if parent else None,
        references=" ".join((*parent.references, parent.message_id)) if parent else None,
    )
    message = compose(
        OutgoingEmail(
            touch_id=touch.id,
            message_id=message_id,
            sender_name=sender.full_name,
            sender_email=str(sender.email),
            recipient_name=" ".join(p for p in (prospect.first_name, prospect.last_name) if p),
            recipient_email=prospect.email,
            subject=subject,
            body=body,
            date=now,
            unsubscribe_url=_unsubscribe_url(ctx, work),
            unsubscribe_mailto=f"mailto:unsubscribe@{domain}"
            f"?subject=unsubscribe%20{prospect.unsubscribe_token}",
            parent=parent,
        )
    )
    return ComposedEmail(work, row, message)


def _thread_parent(batch: BatchFacts, touch: TouchView, sender_display: str) -> ThreadParent | None:
    """The last email sent in this enrollment before the touch's step."""
    sent = batch.sent_emails.get(touch.enrollment_id, {})
    earlier_steps = [step for step in sent if step < touch.step]
    earlier = sent[max(earlier_steps)] if earlier_steps else None
    if earlier is None or earlier.message_id is None or earlier.sent_at is None:
        return None
    return ThreadParent(
        message_id=earlier.message_id,
        references=tuple((earlier.references or "").split()),
        subject=earlier.subject or "",
        body=earlier.body or "",
        sent_at=earlier.sent_at,
        sender_display=sender_display,
    )

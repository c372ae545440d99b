"""A batch's touches checked, rendered and composed: what each makes now (an email, a task, or
why not), from rows read once for the batch, with no writes, so on PostgreSQL a batch is
prepared before its claim takes any lock (:func:`prepared_batch`)."""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

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
from cadence.core.mailbox_rules import MailboxCondition, mailbox_hold
from cadence.core.outcomes import TouchOutcome
from cadence.delivery.compose import (
    OutgoingEmail,
    compose,
    new_message_id,
    quote_below,
    reply_subject,
)
from cadence.delivery.reply_threads import SentEmails, parent_email, sent_emails, thread_parent
from cadence.runtime.context import AppContext
from cadence.store.mailbox_sending import mailbox_conditions
from cadence.store.models import Enrollment, Touch
from cadence.store.rows import (
    EnrollmentView,
    ProspectView,
    TouchView,
    model_of,
    prospect_views,
)
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
    #: The SDR the touch is sent as: the enrollment's owner, or for a reply in a thread the
    #: one its parent email left as.
    sender: Sender
    now: datetime


@dataclass(frozen=True)
class BatchFacts:
    """What the batch's checks read once for all its touches."""

    suppressed: Mapping[str, str]
    #: Per enrollment, its sent emails by step, for the batch's reply-thread steps.
    sent_emails: SentEmails
    #: The batch's sending mailboxes that are not ``ok``, and how long a failed one waits.
    mailboxes: Mapping[str, MailboxCondition]
    retry_after: timedelta


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


@dataclass(frozen=True)
class ReadyTask:
    """A call or LinkedIn step rendered, to be issued as the owner's task."""

    work: TouchWork
    rendered: "RenderedTouch"


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
    steps = []
    for touch, enrollment in pairs:
        cadence = ctx.catalog.cadence(enrollment.cadence)
        steps.append((touch, enrollment, cadence, cadence.step(touch.step)))
    sent = sent_emails(
        session, [t.enrollment_id for t, _, _, s in steps if s.thread is Thread.REPLY]
    )
    works = [
        TouchWork(
            touch,
            enrollment,
            prospects[touch.prospect_id],
            cadence,
            step,
            _sent_as(ctx, sent, touch, enrollment, step),
            now,
        )
        for touch, enrollment, cadence, step in steps
    ]
    batch = BatchFacts(
        suppressed=suppression_reasons(session, [w.prospect.email for w in works]),
        sent_emails=sent,
        mailboxes=mailbox_conditions(
            session, {w.sender.name for w in works if not w.step.kind.is_task}
        ),
        retry_after=timedelta(minutes=ctx.settings.mailbox_retry_minutes),
    )
    attempts = {}
    for work in works:
        assert work.touch.id is not None
        attempts[work.touch.id] = _attempt(ctx, work, batch)
    return attempts


def _sent_as(
    ctx: AppContext, sent: SentEmails, touch: TouchView, enrollment: EnrollmentView, step: Step
) -> Sender:
    """The SDR a touch goes out as: a reply in a thread stays on its parent's mailbox (if
    that SDR is still on the team), else the enrollment's owner."""
    team = ctx.catalog.team
    if step.thread is Thread.REPLY:
        parent = parent_email(sent, touch.enrollment_id, touch.step)
        if parent is not None and parent.mailbox in {s.name for s in team.sdr}:
            return team.sender(parent.mailbox)
    return team.sender(enrollment.owner)


@dataclass(frozen=True)
class ComposedEmail:
    """An email ready to start, once its mailbox's allowance has a send for it."""

    work: TouchWork
    row: dict[str, Any]
    message: EmailMessage
    #: Its mailbox was failing and is tried again: a send that goes through clears it.
    probing: bool = False

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
    #: For a touch held back by its mailbox: the earliest moment to try it again.
    not_before: datetime | None = None


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
    if hold is not None:
        return NotNow(work, hold.outcome, hold.reason)
    if work.step.kind.is_task:
        return None
    name = work.sender.name
    waits = mailbox_hold(
        name, batch.mailboxes.get(name), now=work.now, retry_after=batch.retry_after
    )
    if waits is None:
        return None
    return NotNow(work, TouchOutcome.SKIPPED_MAILBOX, waits.reason, not_before=waits.not_before)


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
    sent = parent_email(batch.sent_emails, touch.enrollment_id, touch.step) if replying else None
    parent = thread_parent(sent, display) if sent is not None else None
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
        mailbox=sender.name,
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
    return ComposedEmail(work, row, message, probing=sender.name in batch.mailboxes)

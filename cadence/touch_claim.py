"""Claiming touches: lock their enrollments, check each may start now, render it, and either
issue its task or compose its email with the touch moved to ``sending`` — all in the
caller's transaction, which commits before anything leaves.

A worker claims a batch of touches in one transaction: the rows each check reads (touches,
enrollments, prospects, suppressions, mailbox counters) are read once for the batch, so a
claim costs a few statements and one commit per batch, not per touch.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cadence.audit_log import record_audit
from cadence.business_calendar import BusinessCalendar
from cadence.config_files import Sender
from cadence.context import AppContext
from cadence.domain import CadenceDefinition, Delay, EnrollmentState, Step, Thread, TouchStatus
from cadence.enrollment import advance, contact_block, plan_step
from cadence.errors import RenderError
from cadence.messages import (
    OutgoingEmail,
    ThreadParent,
    compose,
    new_message_id,
    quote_below,
    reply_subject,
)
from cadence.models import Enrollment, Prospect, Task, Touch
from cadence.render_context import template_context
from cadence.rendering import RenderedContent
from cadence.scheduling import is_open
from cadence.send_limits import MailboxAllowance
from cadence.suppressions import suppression_reasons
from cadence.transitions import fail_touch, move_enrollment, move_touch

#: Attempts at a touch whose sends keep failing transiently before it is marked failed.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Claimed:
    touch_id: int
    message: EmailMessage | None


def locked_touches(
    session: Session, touch_ids: Sequence[int]
) -> dict[int, tuple[Touch, Enrollment]]:
    """The touches and their enrollments, the enrollment rows locked first (the lock a halt
    takes), in id order so two batches never wait on each other in a cycle, and the touches
    read after the lock, so their status is the committed one."""
    if not touch_ids:
        return {}
    enrollments = {
        e.id: e
        for e in session.exec(
            select(Enrollment)
            .join(Touch, col(Touch.enrollment_id) == col(Enrollment.id))
            .where(col(Touch.id).in_(touch_ids))
            .order_by(col(Enrollment.id))
            .with_for_update(of=Enrollment)
            .execution_options(populate_existing=True)
        )
    }
    touches = session.exec(
        select(Touch).where(col(Touch.id).in_(touch_ids)).execution_options(populate_existing=True)
    )
    return {t.id: (t, enrollments[t.enrollment_id]) for t in touches if t.id is not None}


def taken_back(enrollment: Enrollment) -> tuple[TouchStatus, str | None]:
    """Where a touch goes whose enrollment stopped being active before it left: back to
    scheduled for after a pause's resume; cancelled, never sent, when stopped."""
    if enrollment.state == EnrollmentState.PAUSED:
        return TouchStatus.SCHEDULED, None
    return TouchStatus.CANCELLED, f"enrollment {enrollment.state}"


def prospects_by_id(session: Session, ids: set[int]) -> dict[int, Prospect]:
    if not ids:
        return {}
    rows = session.exec(select(Prospect).where(col(Prospect.id).in_(ids)))
    return {p.id: p for p in rows if p.id is not None}


@dataclass(frozen=True)
class _Work:
    """One touch being claimed, with everything its checks and its rendering read."""

    touch: Touch
    enrollment: Enrollment
    prospect: Prospect
    cadence: CadenceDefinition
    step: Step
    sender: Sender
    now: datetime


@dataclass(frozen=True)
class _SentEmail:
    message_id: str | None
    references: str | None
    subject: str | None
    body: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class _Batch:
    """What the batch's checks read once for all its touches."""

    suppressed: Mapping[str, str]
    allowance: MailboxAllowance
    #: Per enrollment, its sent emails by step, for the batch's reply-thread steps.
    sent_emails: Mapping[int, Mapping[int, _SentEmail]]


def _sent_emails(session: Session, works: list[_Work]) -> dict[int, dict[int, _SentEmail]]:
    """The sent emails of every enrollment with a reply-thread step in the batch, in one
    query (one a touch before): the parent each reply quotes is among them."""
    enrollment_ids = {w.touch.enrollment_id for w in works if w.step.thread is Thread.REPLY}
    found: dict[int, dict[int, _SentEmail]] = {}
    if not enrollment_ids:
        return found
    rows = session.execute(
        sa_select(
            col(Touch.enrollment_id),
            col(Touch.step),
            col(Touch.message_id),
            col(Touch.references),
            col(Touch.subject),
            col(Touch.body),
            col(Touch.sent_at),
        ).where(
            col(Touch.enrollment_id).in_(enrollment_ids),
            col(Touch.channel) == "email",
            col(Touch.status) == TouchStatus.SENT,
        )
    )
    for enrollment_id, step, *fields in rows:
        found.setdefault(enrollment_id, {})[step] = _SentEmail(*fields)
    return found


def claim_touches(
    ctx: AppContext, session: Session, touch_ids: Sequence[int]
) -> dict[int, Claimed | str]:
    """For each touch: check, render and move it to ``sending`` (or issue its task); else
    say why not. Every touch of the batch shares the caller's transaction."""
    now = ctx.clock.now()
    found = locked_touches(session, touch_ids)
    outcomes: dict[int, Claimed | str] = {}
    ready: list[tuple[Touch, Enrollment]] = []
    for touch_id in touch_ids:
        if touch_id not in found:
            outcomes[touch_id] = "skipped:unknown-touch"
            continue
        touch, enrollment = found[touch_id]
        if touch.status != TouchStatus.QUEUED:
            outcomes[touch_id] = f"skipped:{touch.status}"
        elif enrollment.state != EnrollmentState.ACTIVE:
            touch.status, touch.reason = taken_back(enrollment)
            session.add(touch)
            outcomes[touch_id] = f"skipped:enrollment-{enrollment.state}"
        else:
            ready.append((touch, enrollment))
    if not ready:
        return outcomes
    prospects = prospects_by_id(session, {t.prospect_id for t, _ in ready})
    works = []
    for touch, enrollment in ready:
        cadence = ctx.catalog.cadence(enrollment.cadence)
        works.append(
            _Work(
                touch,
                enrollment,
                prospects[touch.prospect_id],
                cadence,
                cadence.step(touch.step),
                ctx.catalog.team.sender(enrollment.owner),
                now,
            )
        )
    batch = _Batch(
        suppressed=suppression_reasons(session, [w.prospect.email for w in works]),
        allowance=MailboxAllowance.lock(
            session, [w.sender.name for w in works if not w.step.kind.is_task], now.date()
        ),
        sent_emails=_sent_emails(session, works),
    )
    with session.no_autoflush:
        for work in works:
            assert work.touch.id is not None
            outcomes[work.touch.id] = _claim_one(ctx, session, work, batch)
    return outcomes


def _claim_one(ctx: AppContext, session: Session, work: _Work, batch: _Batch) -> Claimed | str:
    held = _held_back(session, work, batch)
    if held is not None:
        return held
    rendered = _render(ctx, session, work)
    if isinstance(rendered, str):
        return rendered
    work.touch.attempts += 1
    work.touch.started_at = work.now
    if work.step.kind.is_task:
        return _issue_task(ctx, session, work, rendered)
    return _prepare_email(ctx, session, work, rendered, batch)


def _later(session: Session, work: _Work, not_before: datetime, reason: str | None) -> None:
    """Back to ``scheduled`` at the step's next open slot from ``not_before``."""
    work.touch.status = TouchStatus.SCHEDULED
    work.touch.reason = reason
    work.touch.due_at = plan_step(
        cadence=work.cadence,
        step=replace(work.step, delay=Delay()),
        prospect=work.prospect,
        anchor=not_before,
    )
    session.add(work.touch)


def _held_back(session: Session, work: _Work, batch: _Batch) -> str | None:
    """Why this touch may not start now (outside its window, prospect not contactable, out of
    attempts, over a send limit), having rescheduled, skipped or failed it; else None."""
    touch, enrollment, prospect, now = work.touch, work.enrollment, work.prospect, work.now
    calendar = BusinessCalendar(prospect.country) if work.cadence.business_days else None
    window = work.cadence.window_for(work.step)
    if not is_open(now, window, ZoneInfo(prospect.timezone), calendar):
        _later(session, work, now, touch.reason)
        return "skipped:outside-window"
    blocked = contact_block(prospect) or batch.suppressed.get(prospect.email)
    if blocked:
        move_touch(session, touch, TouchStatus.SKIPPED, reason=blocked, now=now)
        move_enrollment(session, enrollment, EnrollmentState.HALTED, reason=blocked, now=now)
        return "skipped:not-contactable"
    if touch.attempts >= MAX_ATTEMPTS:
        why = f"gave up after {touch.attempts} attempts: {touch.reason or 'transient errors'}"
        fail_touch(session, touch, enrollment, why, now, pause=True)
        return "failed"
    if not work.step.kind.is_task:
        limited = batch.allowance.take(work.sender, now=now)
        if limited is not None:
            _later(session, work, limited.not_before, f"moved: {limited.reason}")
            return "skipped:send-limit"
    return None


def _render(ctx: AppContext, session: Session, work: _Work) -> RenderedContent | str:
    """The touch's text for this prospect; a blocked, missing or failing template fails the
    touch and pauses the enrollment, and nothing is sent."""
    touch, enrollment, now = work.touch, work.enrollment, work.now
    if touch.template in ctx.catalog.blocked:
        why = f"template {touch.template} fails lint ({ctx.catalog.blocked[touch.template]}); "
        fail_touch(session, touch, enrollment, why + "fix it and resume", now, pause=True)
        return "failed:lint"
    template = ctx.catalog.templates.get(touch.template)
    if template is None:
        why = f"template {touch.template!r} no longer exists"
        fail_touch(session, touch, enrollment, why, now, pause=True)
        return "failed:template"
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
        fail_touch(session, touch, enrollment, f"render failed: {exc}", now, pause=True)
        return "failed:render"
    touch.template_version = template.version
    return rendered


def _unsubscribe_url(ctx: AppContext, work: _Work) -> str:
    base = ctx.settings.public_url.rstrip("/")
    return f"{base}/unsubscribe/{work.prospect.unsubscribe_token}"


def _issue_task(
    ctx: AppContext, session: Session, work: _Work, rendered: RenderedContent
) -> Claimed:
    """A call or LinkedIn step becomes a task for the owner and counts as done at once: a
    task never holds the cadence back."""
    touch, step, now = work.touch, work.step, work.now
    assert touch.id is not None
    touch.status = TouchStatus.SENT
    touch.sent_at = now
    touch.subject = rendered.subject or f"{step.channel.value} {work.prospect.email}"
    touch.body = rendered.body
    session.add(touch)
    session.add(
        Task(
            touch_id=touch.id,
            prospect_id=touch.prospect_id,
            owner=work.enrollment.owner,
            channel=step.channel,
            title=touch.subject,
            instructions=rendered.body,
            due_at=touch.due_at,
        )
    )
    record_audit(
        session,
        at=now,
        action="task:created",
        prospect_id=touch.prospect_id,
        enrollment_id=work.enrollment.id,
        touch_id=touch.id,
        before="queued",
        after="sent",
        reason=f"{step.channel.value} task for {work.enrollment.owner}",
    )
    advance(
        session,
        ctx.catalog,
        enrollment=work.enrollment,
        prospect=work.prospect,
        done=touch,
        now=now,
    )
    return Claimed(touch.id, None)


def _prepare_email(
    ctx: AppContext, session: Session, work: _Work, rendered: RenderedContent, batch: _Batch
) -> Claimed | str:
    """Thread, quote and compose the email; the touch is ``sending`` with its Message-ID
    when this transaction commits, before anything leaves."""
    touch, prospect, sender, now = work.touch, work.prospect, work.sender, work.now
    assert touch.id is not None
    display = f"{sender.full_name} <{sender.email}>"
    replying = work.step.thread is Thread.REPLY
    parent = _thread_parent(batch, touch, display) if replying else None
    if replying and parent is None:
        touch.status = TouchStatus.SKIPPED
        touch.reason = "reply step has no earlier sent email in this enrollment to reply to"
        session.add(touch)
        advance(
            session,
            ctx.catalog,
            enrollment=work.enrollment,
            prospect=prospect,
            done=touch,
            now=now,
        )
        return "skipped:no-thread"
    subject = rendered.subject or ""
    body = rendered.body
    if parent is not None:
        subject = rendered.subject or reply_subject(parent.subject)
        body = quote_below(rendered.body, parent)
    domain = ctx.catalog.team.company.domain
    touch.message_id = touch.message_id or new_message_id(touch.id, domain)
    touch.subject = subject
    touch.body = body
    touch.in_reply_to = parent.message_id if parent else None
    touch.references = " ".join((*parent.references, parent.message_id)) if parent else None
    touch.status = TouchStatus.SENDING
    session.add(touch)
    message = compose(
        OutgoingEmail(
            touch_id=touch.id,
            message_id=touch.message_id,
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
    return Claimed(touch.id, message)


def _thread_parent(batch: _Batch, touch: Touch, sender_display: str) -> ThreadParent | None:
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

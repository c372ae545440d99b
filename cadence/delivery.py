"""Deliver one touch by id: the worker's whole job, idempotent under redelivery.

Three steps, two commits around the send:

1. claim: lock the enrollment row, check the touch is still ``queued`` and the enrollment
   ``active``, render, and move the touch to ``sending`` (with its Message-ID) — committed
   before anything leaves, so a halt either wins the lock first or sees ``sending``;
2. send through the transport, outside any transaction;
3. record ``sent`` and plan the next step.

A crash between 2 and 3 leaves ``sending``; the reaper flags it ``unconfirmed``.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from cadence.audit_log import record_audit
from cadence.business_calendar import BusinessCalendar
from cadence.context import AppContext
from cadence.database import transaction
from cadence.domain import Delay, EnrollmentState, Thread, TouchStatus
from cadence.enrollment import advance, plan_step, why_not_contactable
from cadence.errors import (
    DeliveryError,
    DeliveryOutcomeUnknown,
    RenderError,
    TransientDeliveryError,
)
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
from cadence.scheduling import is_open
from cadence.send_limits import send_limit
from cadence.transitions import move_enrollment, move_touch

log = logging.getLogger(__name__)

#: Attempts at a touch whose sends keep failing transiently before it is marked failed.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Claimed:
    touch_id: int
    message: EmailMessage | None


def deliver_touch(ctx: AppContext, touch_id: int) -> str:
    """Run one touch; returns a short word for logs (``sent``, ``task``, ``skipped:…``).

    Raises :class:`TransientDeliveryError` after putting the touch back to ``queued``, so the
    broker's retry delivers it again later. A database outage propagates (the touch stays
    ``queued`` and is retried); any other error in the claim fails the touch for review
    instead of leaving it queued forever.
    """
    try:
        with transaction(ctx.engine) as session:
            outcome = _claim(ctx, session, touch_id)
    except DBAPIError:
        raise
    except Exception as exc:
        log.exception("touch %s could not be prepared", touch_id)
        with transaction(ctx.engine) as session:
            _prepare_crashed(ctx, session, touch_id, f"{type(exc).__name__}: {exc}")
        return "failed:error"
    if not isinstance(outcome, Claimed):
        return outcome
    if outcome.message is None:
        return "task"
    try:
        ctx.transport.send(outcome.message)
    except TransientDeliveryError as exc:
        with transaction(ctx.engine) as session:
            _requeue(ctx, session, touch_id, str(exc))
        raise
    except DeliveryOutcomeUnknown as exc:
        with transaction(ctx.engine) as session:
            _unconfirmed(ctx, session, touch_id, str(exc))
        return "unconfirmed"
    except DeliveryError as exc:
        with transaction(ctx.engine) as session:
            _failed(ctx, session, touch_id, str(exc))
        return "failed"
    with transaction(ctx.engine) as session:
        _record_sent(ctx, session, touch_id)
    return "sent"


def _locked(session: Session, touch_id: int) -> tuple[Touch, Enrollment] | None:
    """The touch and its enrollment, the enrollment row locked first (the lock a halt takes),
    and the touch read after the lock, so its status is the committed one."""
    enrollment = session.exec(
        select(Enrollment)
        .join(Touch, col(Touch.enrollment_id) == col(Enrollment.id))
        .where(Touch.id == touch_id)
        .with_for_update(of=Enrollment)
    ).first()
    if enrollment is None:
        return None
    touch = session.exec(
        select(Touch).where(Touch.id == touch_id).execution_options(populate_existing=True)
    ).one()
    return touch, enrollment


def _claim(ctx: AppContext, session: Session, touch_id: int) -> Claimed | str:
    now = ctx.clock.now()
    found = _locked(session, touch_id)
    if found is None:
        return "skipped:unknown-touch"
    touch, enrollment = found
    if touch.status != TouchStatus.QUEUED:
        return f"skipped:{touch.status}"
    if enrollment.state != EnrollmentState.ACTIVE:
        # Paused: back to scheduled for after the resume; stopped: never sent.
        live = enrollment.state == EnrollmentState.PAUSED
        touch.status = TouchStatus.SCHEDULED if live else TouchStatus.CANCELLED
        touch.reason = None if live else f"enrollment {enrollment.state}"
        session.add(touch)
        return f"skipped:enrollment-{enrollment.state}"
    prospect = session.get(Prospect, touch.prospect_id)
    assert prospect is not None
    cadence = ctx.catalog.cadence(enrollment.cadence)
    step = cadence.step(touch.step)
    calendar = BusinessCalendar(prospect.country) if cadence.business_days else None
    if not is_open(now, cadence.window_for(step), ZoneInfo(prospect.timezone), calendar):
        touch.status = TouchStatus.SCHEDULED
        touch.due_at = plan_step(
            cadence=cadence, step=replace(step, delay=Delay()), prospect=prospect, anchor=now
        )
        session.add(touch)
        return "skipped:outside-window"
    blocked = why_not_contactable(session, prospect)
    if blocked:
        move_touch(session, touch, TouchStatus.SKIPPED, reason=blocked, now=now)
        move_enrollment(session, enrollment, EnrollmentState.HALTED, reason=blocked, now=now)
        return "skipped:not-contactable"
    if touch.attempts >= MAX_ATTEMPTS:
        _fail_in(
            session,
            touch,
            enrollment,
            f"gave up after {touch.attempts} attempts: {touch.reason or 'transient errors'}",
            now,
            pause=True,
        )
        return "failed"
    sender = ctx.catalog.team.sender(enrollment.owner)
    if not step.kind.is_task:
        limited = send_limit(session, sender, now=now)
        if limited is not None:
            touch.status = TouchStatus.SCHEDULED
            touch.reason = f"moved: {limited.reason}"
            touch.due_at = plan_step(
                cadence=cadence,
                step=replace(step, delay=Delay()),
                prospect=prospect,
                anchor=limited.not_before,
            )
            session.add(touch)
            return "skipped:send-limit"
    unsubscribe_url = (
        f"{ctx.settings.public_url.rstrip('/')}/unsubscribe/{prospect.unsubscribe_token}"
    )
    context = template_context(
        prospect,
        ctx.catalog,
        sender,
        unsubscribe_url=unsubscribe_url,
        cadence=cadence.name,
        step=step.number,
    )
    if touch.template in ctx.catalog.blocked:
        why = ctx.catalog.blocked[touch.template]
        _fail_in(
            session,
            touch,
            enrollment,
            f"template {touch.template} fails lint ({why}); fix it and resume",
            now,
            pause=True,
        )
        return "failed:lint"
    template = ctx.catalog.templates.get(touch.template)
    if template is None:
        _fail_in(
            session,
            touch,
            enrollment,
            f"template {touch.template!r} no longer exists",
            now,
            pause=True,
        )
        return "failed:template"
    try:
        rendered = ctx.catalog.renderer.render(touch.template, context)
    except RenderError as exc:
        _fail_in(session, touch, enrollment, f"render failed: {exc}", now, pause=True)
        return "failed:render"
    touch.template_version = template.version
    touch.attempts += 1
    touch.started_at = now
    assert touch.id is not None
    if step.kind.is_task:
        touch.status = TouchStatus.SENT
        touch.sent_at = now
        touch.subject = rendered.subject or f"{step.channel.value} {prospect.email}"
        touch.body = rendered.body
        session.add(touch)
        session.add(
            Task(
                touch_id=touch.id,
                prospect_id=touch.prospect_id,
                owner=enrollment.owner,
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
            prospect_id=prospect.id,
            enrollment_id=enrollment.id,
            touch_id=touch.id,
            before="queued",
            after="sent",
            reason=f"{step.channel.value} task for {enrollment.owner}",
        )
        advance(session, ctx.catalog, enrollment=enrollment, prospect=prospect, done=touch, now=now)
        return Claimed(touch.id, None)
    display = f"{sender.full_name} <{sender.email}>"
    parent = _thread_parent(session, touch, display) if step.thread is Thread.REPLY else None
    if step.thread is Thread.REPLY and parent is None:
        touch.status = TouchStatus.SKIPPED
        touch.reason = "reply step has no earlier sent email in this enrollment to reply to"
        session.add(touch)
        advance(session, ctx.catalog, enrollment=enrollment, prospect=prospect, done=touch, now=now)
        return "skipped:no-thread"
    subject = rendered.subject or ""
    body = rendered.body
    if parent is not None:
        subject = reply_subject(parent.subject) if not rendered.subject else rendered.subject
        body = quote_below(rendered.body, parent)
    message_id = touch.message_id or new_message_id(touch.id, ctx.catalog.team.company.domain)
    touch.message_id = message_id
    touch.subject = subject
    touch.body = body
    touch.in_reply_to = parent.message_id if parent else None
    touch.references = " ".join((*parent.references, parent.message_id)) if parent else None
    touch.status = TouchStatus.SENDING
    session.add(touch)
    name = " ".join(p for p in (prospect.first_name, prospect.last_name) if p)
    message = compose(
        OutgoingEmail(
            touch_id=touch.id,
            message_id=message_id,
            sender_name=sender.full_name,
            sender_email=str(sender.email),
            recipient_name=name,
            recipient_email=prospect.email,
            subject=subject,
            body=body,
            date=now,
            unsubscribe_url=unsubscribe_url,
            unsubscribe_mailto=f"mailto:unsubscribe@{ctx.catalog.team.company.domain}"
            f"?subject=unsubscribe%20{prospect.unsubscribe_token}",
            parent=parent,
        )
    )
    return Claimed(touch.id, message)


def _thread_parent(session: Session, touch: Touch, sender_display: str) -> ThreadParent | None:
    earlier = session.exec(
        select(Touch)
        .where(
            Touch.enrollment_id == touch.enrollment_id,
            col(Touch.step) < touch.step,
            Touch.channel == "email",
            Touch.status == TouchStatus.SENT,
        )
        .order_by(col(Touch.step).desc())
    ).first()
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


def _record_sent(ctx: AppContext, session: Session, touch_id: int) -> None:
    now = ctx.clock.now()
    found = _locked(session, touch_id)
    assert found is not None
    touch, enrollment = found
    if touch.status != TouchStatus.SENDING:
        log.warning("touch %s was %s when its send was recorded", touch_id, touch.status)
        return
    touch.status = TouchStatus.SENT
    touch.sent_at = now
    session.add(touch)
    record_audit(
        session,
        at=now,
        action="touch:sent",
        prospect_id=touch.prospect_id,
        enrollment_id=enrollment.id,
        touch_id=touch.id,
        before="sending",
        after="sent",
        reason=touch.message_id,
    )
    prospect = session.get(Prospect, touch.prospect_id)
    assert prospect is not None
    advance(session, ctx.catalog, enrollment=enrollment, prospect=prospect, done=touch, now=now)


def _prepare_crashed(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
    touch = session.get(Touch, touch_id)
    if touch is None or touch.status != TouchStatus.QUEUED:
        return
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.id == touch.enrollment_id).with_for_update()
    ).one()
    _fail_in(
        session, touch, enrollment, f"could not be prepared: {reason}", ctx.clock.now(), pause=True
    )


def _unconfirmed(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
    """The server may have it: flag for a person, never re-send blindly."""
    touch = session.get(Touch, touch_id)
    if touch is None or touch.status != TouchStatus.SENDING:
        return
    move_touch(
        session,
        touch,
        TouchStatus.UNCONFIRMED,
        reason=f"{reason}; review before resending",
        now=ctx.clock.now(),
    )


def _requeue(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
    """The server did not take it: safe to try again, and the broker will."""
    touch = session.get(Touch, touch_id)
    if touch is not None and touch.status == TouchStatus.SENDING:
        touch.status = TouchStatus.QUEUED
        touch.queued_at = ctx.clock.now()
        touch.reason = f"retrying: {reason}"
        session.add(touch)


def _failed(ctx: AppContext, session: Session, touch_id: int, reason: str) -> None:
    touch = session.get(Touch, touch_id)
    if touch is None or touch.status != TouchStatus.SENDING:
        return
    enrollment = session.exec(
        select(Enrollment).where(Enrollment.id == touch.enrollment_id).with_for_update()
    ).one()
    _fail_in(session, touch, enrollment, reason, ctx.clock.now(), halt=True)


def _fail_in(
    session: Session,
    touch: Touch,
    enrollment: Enrollment,
    reason: str,
    now: datetime,
    *,
    pause: bool = False,
    halt: bool = False,
) -> None:
    """Fail the touch; a render error pauses the enrollment for a person to fix the template,
    a refused address halts it."""
    move_touch(session, touch, TouchStatus.FAILED, reason=reason, now=now)
    if pause or halt:
        state = EnrollmentState.PAUSED if pause else EnrollmentState.HALTED
        move_enrollment(
            session, enrollment, state, reason=f"touch {touch.step} failed: {reason}", now=now
        )

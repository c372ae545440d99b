"""Claiming touches: lock their enrollments, check each may start now, render it, and either
issue its task or compose its email with the touch moved to ``sending`` — all in the
caller's transaction, which commits before anything leaves.

A worker claims a batch of touches in one transaction: the rows each check reads (touches,
enrollments, prospects, suppressions, mailbox counters) are read once for the batch, so a
claim costs a few statements and one commit per batch, not per touch.

Every claim of a mailbox needs its send counters, and a claim waiting for them holds its
enrollments' locks, which a reply's halt waits for in turn. So on PostgreSQL the batch's
sends are reserved before the claim begins, by one statement committed at once
(:class:`Reservation`); a mailbox that cannot take them all has its counter row locked
by the claim, last, once the batch's emails are rendered and composed. Locked first in
every claim, the rows made a team's claims render one batch after another, each waiting
for all those queued before it.
"""

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Update, bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from cadence.audit_log import audit_row, record_audits
from cadence.business_calendar import BusinessCalendar
from cadence.catalog import Catalog
from cadence.config_files import Sender
from cadence.context import AppContext
from cadence.database import is_postgres
from cadence.domain import (
    CadenceDefinition,
    Channel,
    Delay,
    EnrollmentState,
    Step,
    Thread,
    TouchStatus,
)
from cadence.enrollment import (
    INSERT_TOUCH,
    advance,
    complete_enrollments,
    contact_block,
    next_touch,
    plan_step,
)
from cadence.errors import RenderError
from cadence.geography import time_zone
from cadence.messages import (
    OutgoingEmail,
    ThreadParent,
    compose,
    new_message_id,
    quote_below,
    reply_subject,
)
from cadence.models import ENROLLMENTS, TASKS, TOUCHES, Enrollment, Touch
from cadence.render_context import template_context
from cadence.rendering import RenderedContent
from cadence.scheduling import is_open
from cadence.send_limits import MailboxAllowance, Reservation
from cadence.store_views import (
    EnrollmentView,
    ProspectView,
    TouchView,
    locked_touch_views,
    model_of,
    prospect_views,
)
from cadence.suppressions import suppression_reasons
from cadence.transitions import fail_touch, move_enrollment, move_touch

log = logging.getLogger(__name__)

#: Attempts at a touch whose sends keep failing transiently before it is marked failed.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Claimed:
    touch_id: int
    message: EmailMessage | None


def taken_back(enrollment: EnrollmentView) -> tuple[TouchStatus, str | None]:
    """Where a touch goes whose enrollment stopped being active before it left: back to
    scheduled for after a pause's resume; cancelled, never sent, when stopped."""
    if enrollment.state == EnrollmentState.PAUSED:
        return TouchStatus.SCHEDULED, None
    return TouchStatus.CANCELLED, f"enrollment {enrollment.state}"


@dataclass(frozen=True)
class _Work:
    """One touch being claimed, with everything its checks and its rendering read."""

    touch: TouchView
    enrollment: EnrollmentView
    prospect: ProspectView
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
    #: Per enrollment, its sent emails by step, for the batch's reply-thread steps.
    sent_emails: Mapping[int, Mapping[int, _SentEmail]]


#: The columns a claim sets on an email it moves to ``sending``, or on a task's touch it
#: marks ``sent``; one statement shape each, so a batch is one executemany.
_EMAIL_COLUMNS = ("status", "attempts", "started_at", "template_version", "message_id",
                  "subject", "body", "in_reply_to", "references")  # fmt: skip
_TASK_COLUMNS = ("status", "attempts", "started_at", "template_version", "sent_at", "subject",
                 "body")  # fmt: skip
#: A touch that may not start now, back to ``scheduled`` for its next open slot.
_LATER_COLUMNS = ("status", "reason", "due_at")


def _touch_row(touch_id: int, **values: Any) -> dict[str, Any]:
    """One touch's parameters for a :func:`_by_id` statement."""
    return {"touch_id": touch_id, **{f"new_{k}": v for k, v in values.items()}}


def _started_row(work: "_Work", rendered: "_Rendered", **values: Any) -> dict[str, Any]:
    """A touch that starts now: one more attempt, made with this template version."""
    assert work.touch.id is not None
    return _touch_row(
        work.touch.id,
        attempts=work.touch.attempts + 1,
        started_at=work.now,
        template_version=rendered.template_version,
        **values,
    )


def _by_id(columns: tuple[str, ...]) -> Update:
    return (
        update(TOUCHES)
        .where(TOUCHES.c.id == bindparam("touch_id"))
        .values({name: bindparam(f"new_{name}") for name in columns})
    )


_INSERT_TASK = insert(TASKS)
_SENDING, _TASK_ISSUED, _LATER = (
    _by_id(columns) for columns in (_EMAIL_COLUMNS, _TASK_COLUMNS, _LATER_COLUMNS)
)


@dataclass
class _Writes:
    """The batch's usual outcomes (an email to send, a task issued), written when the claim
    ends with one executemany per kind: through ORM objects each touch flushed an UPDATE
    of its own, and each task an INSERT, its audit entry another, its next touch a third.
    The rare outcomes (held back, failed, skipped) still go through the ORM helpers."""

    emails: list[dict[str, Any]] = field(default_factory=list)
    task_touches: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    next_touches: list[dict[str, Any]] = field(default_factory=list)
    later: list[dict[str, Any]] = field(default_factory=list)
    #: Enrollments whose last step is a task issued now, completed after it is written.
    finished: list[tuple[EnrollmentView, ProspectView]] = field(default_factory=list)

    def write(self, session: Session, catalog: Catalog, *, now: datetime) -> None:
        connection = session.connection()
        for rows, statement in (
            (self.emails, _SENDING),
            (self.task_touches, _TASK_ISSUED),
            (self.later, _LATER),
            (self.tasks, _INSERT_TASK),
            (self.next_touches, INSERT_TOUCH),
        ):
            if rows:
                connection.execute(statement, rows)
        record_audits(session, self.audits)
        if self.finished:
            session.flush()  # the rare outcomes' models first: enrollments are written below
            complete_enrollments(session, catalog, self.finished, now=now)


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
).where(TOUCHES.c.enrollment_id.in_(bindparam("ids", expanding=True)))


def _sent_emails(session: Session, works: list[_Work]) -> dict[int, dict[int, _SentEmail]]:
    """The sent emails of every enrollment with a reply-thread step in the batch, in one
    query (one a touch before): the parent each reply quotes is among them."""
    enrollment_ids = {w.touch.enrollment_id for w in works if w.step.thread is Thread.REPLY}
    found: dict[int, dict[int, _SentEmail]] = {}
    if not enrollment_ids:
        return found
    rows = session.connection().execute(_SENT_EMAILS, {"ids": list(enrollment_ids)})
    for enrollment_id, step, channel, status, *fields in rows:
        if channel == "email" and status == TouchStatus.SENT:
            found.setdefault(enrollment_id, {})[step] = _SentEmail(*fields)
    return found


#: The mailboxes of a batch's touches, read without locks to reserve their sends. By touch id
#: only, the rest checked here: with the status in the query PostgreSQL's planner took the
#: status index and read every queued touch, 3.4 ms a batch with 4,000 queued.
_BATCH_OWNERS = (
    select(TOUCHES.c.status, TOUCHES.c.channel, ENROLLMENTS.c.state, ENROLLMENTS.c.owner)
    .join(TOUCHES, TOUCHES.c.enrollment_id == ENROLLMENTS.c.id)
    .where(TOUCHES.c.id.in_(bindparam("ids", expanding=True)))
)


@contextmanager
def sends_reserved(ctx: AppContext, touch_ids: Sequence[int]) -> Iterator[Reservation]:
    """The batch's sends reserved for its claim (PostgreSQL), the unused ones given back when
    the claim ends. On SQLite nothing is reserved: its one write lock serializes claims."""
    now = ctx.clock.now()
    if not is_postgres(ctx.engine):
        yield Reservation.none(now)
        return
    with ctx.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        rows = connection.execute(_BATCH_OWNERS, {"ids": list(touch_ids)})
        senders = [
            ctx.catalog.team.sender(owner)
            for status, channel, state, owner in rows
            if status == TouchStatus.QUEUED
            and channel == Channel.EMAIL
            and state == EnrollmentState.ACTIVE
        ]
        reservation = Reservation.take_ahead(connection, senders, now=now)
    try:
        yield reservation
    except BaseException:
        reservation.untake()
        raise
    finally:
        try:
            reservation.give_back(ctx.engine)
        except SQLAlchemyError:  # never the claim's failure: its emails are committed now
            log.warning("unused sends reserved for a claim stay counted", exc_info=True)


def claim_touches(
    ctx: AppContext,
    session: Session,
    touch_ids: Sequence[int],
    reservation: Reservation,
) -> dict[int, Claimed | str]:
    """For each touch: check, render and move it to ``sending`` (or issue its task); else
    say why not. Every touch of the batch shares the caller's transaction. An email starts
    with a send reserved for it ahead (:func:`sends_reserved`), or taken from its mailbox's
    counters, locked then."""
    now = reservation.now
    found = locked_touch_views(session, touch_ids)
    outcomes: dict[int, Claimed | str] = {}
    ready: list[tuple[TouchView, EnrollmentView]] = []
    for touch_id in touch_ids:
        if touch_id not in found:
            outcomes[touch_id] = "skipped:unknown-touch"
            continue
        touch, enrollment = found[touch_id]
        if touch.status != TouchStatus.QUEUED:
            outcomes[touch_id] = f"skipped:{touch.status}"
        elif enrollment.state != EnrollmentState.ACTIVE:
            model = model_of(session, Touch, touch_id)
            model.status, model.reason = taken_back(enrollment)
            session.add(model)
            outcomes[touch_id] = f"skipped:enrollment-{enrollment.state}"
        else:
            ready.append((touch, enrollment))
    if not ready:
        return outcomes
    prospects = prospect_views(session, {t.prospect_id for t, _ in ready})
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
        sent_emails=_sent_emails(session, works),
    )
    writes = _Writes()
    composed: list[_Composed] = []
    with session.no_autoflush:
        for work in works:
            assert work.touch.id is not None
            outcome = _claim_one(ctx, session, work, batch, writes)
            if isinstance(outcome, _Composed):
                composed.append(outcome)
            else:
                outcomes[work.touch.id] = outcome
    reserved = {c.touch_id for c in composed if reservation.take(c.work.sender)}
    unreserved = [c for c in composed if c.touch_id not in reserved]
    allowance = MailboxAllowance.lock(session, [c.work.sender.name for c in unreserved], now.date())
    for email in composed:
        if email.touch_id in reserved:
            outcomes[email.touch_id] = _start(email, writes)
        else:
            outcomes[email.touch_id] = _take_send(allowance, email, writes)
    writes.write(session, ctx.catalog, now=now)
    allowance.save(session)
    return outcomes


@dataclass(frozen=True)
class _Composed:
    """An email ready to start, once its mailbox's allowance has a send for it."""

    work: _Work
    row: dict[str, Any]
    message: EmailMessage

    @property
    def touch_id(self) -> int:
        assert self.work.touch.id is not None
        return self.work.touch.id


def _take_send(allowance: MailboxAllowance, email: _Composed, writes: _Writes) -> Claimed | str:
    """The email starts if its mailbox may send now; else it moves to when it may (the
    composed message is dropped, and composed again then)."""
    limited = allowance.take(email.work.sender, now=email.work.now)
    if limited is not None:
        _later(writes, email.work, limited.not_before, f"moved: {limited.reason}")
        return "skipped:send-limit"
    return _start(email, writes)


def _start(email: _Composed, writes: _Writes) -> Claimed:
    writes.emails.append(email.row)
    return Claimed(email.touch_id, email.message)


def _claim_one(
    ctx: AppContext, session: Session, work: _Work, batch: _Batch, writes: _Writes
) -> _Composed | Claimed | str:
    held = _held_back(session, work, batch, writes)
    if held is not None:
        return held
    rendered = _render(ctx, session, work)
    if isinstance(rendered, str):
        return rendered
    if work.step.kind.is_task:
        return _issue_task(ctx, session, work, rendered, writes)
    return _prepare_email(ctx, session, work, rendered, batch)


def _models(session: Session, work: _Work) -> tuple[Touch, Enrollment]:
    return (
        model_of(session, Touch, work.touch.id),
        model_of(session, Enrollment, work.enrollment.id),
    )


def _later(writes: _Writes, work: _Work, not_before: datetime, reason: str | None) -> None:
    """Back to ``scheduled`` at the step's next open slot from ``not_before``."""
    assert work.touch.id is not None
    due_at = plan_step(
        cadence=work.cadence,
        step=replace(work.step, delay=Delay()),
        prospect=work.prospect,
        anchor=not_before,
    )
    writes.later.append(
        _touch_row(work.touch.id, status=TouchStatus.SCHEDULED.value, reason=reason, due_at=due_at)
    )


def _held_back(session: Session, work: _Work, batch: _Batch, writes: _Writes) -> str | None:
    """Why this touch may not start now (outside its window, prospect not contactable, out of
    attempts), having rescheduled, skipped or failed it; else None. The send limits are
    checked last, by :func:`_take_send`."""
    touch, prospect, now = work.touch, work.prospect, work.now
    calendar = BusinessCalendar(prospect.country) if work.cadence.business_days else None
    window = work.cadence.window_for(work.step)
    if not is_open(now, window, time_zone(prospect.timezone), calendar):
        _later(writes, work, now, touch.reason)
        return "skipped:outside-window"
    blocked = contact_block(prospect) or batch.suppressed.get(prospect.email)
    if blocked:
        touch_model, enrollment = _models(session, work)
        move_touch(session, touch_model, TouchStatus.SKIPPED, reason=blocked, now=now)
        move_enrollment(session, enrollment, EnrollmentState.HALTED, reason=blocked, now=now)
        return "skipped:not-contactable"
    if touch.attempts >= MAX_ATTEMPTS:
        why = f"gave up after {touch.attempts} attempts: {touch.reason or 'transient errors'}"
        fail_touch(session, *_models(session, work), why, now, pause=True)
        return "failed"
    return None


@dataclass(frozen=True)
class _Rendered:
    content: RenderedContent
    template_version: str


def _render(ctx: AppContext, session: Session, work: _Work) -> _Rendered | str:
    """The touch's text for this prospect; a blocked, missing or failing template fails the
    touch and pauses the enrollment, and nothing is sent."""
    touch, now = work.touch, work.now
    if touch.template in ctx.catalog.blocked:
        why = f"template {touch.template} fails lint ({ctx.catalog.blocked[touch.template]}); "
        fail_touch(session, *_models(session, work), why + "fix it and resume", now, pause=True)
        return "failed:lint"
    template = ctx.catalog.templates.get(touch.template)
    if template is None:
        why = f"template {touch.template!r} no longer exists"
        fail_touch(session, *_models(session, work), why, now, pause=True)
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
        fail_touch(session, *_models(session, work), f"render failed: {exc}", now, pause=True)
        return "failed:render"
    return _Rendered(rendered, template.version)


def _unsubscribe_url(ctx: AppContext, work: _Work) -> str:
    base = ctx.settings.public_url.rstrip("/")
    return f"{base}/unsubscribe/{work.prospect.unsubscribe_token}"


def _issue_task(
    ctx: AppContext, session: Session, work: _Work, rendered: _Rendered, writes: _Writes
) -> Claimed:
    """A call or LinkedIn step becomes a task for the owner and counts as done at once: a
    task never holds the cadence back, its next step counting from the task's due time."""
    touch, step, now = work.touch, work.step, work.now
    assert touch.id is not None and work.enrollment.id is not None
    title = rendered.content.subject or f"{step.channel.value} {work.prospect.email}"
    writes.task_touches.append(
        _started_row(
            work,
            rendered,
            status=TouchStatus.SENT.value,
            sent_at=now,
            subject=title,
            body=rendered.content.body,
        )
    )
    writes.tasks.append(
        {
            "touch_id": touch.id,
            "prospect_id": touch.prospect_id,
            "owner": work.enrollment.owner,
            "channel": step.channel.value,
            "title": title,
            "instructions": rendered.content.body,
            "due_at": touch.due_at,
            "status": "open",
            "outcome": None,
            "done_at": None,
        }
    )
    writes.audits.append(
        audit_row(
            at=now,
            action="task:created",
            prospect_id=touch.prospect_id,
            enrollment_id=work.enrollment.id,
            touch_id=touch.id,
            before="queued",
            after="sent",
            reason=f"{step.channel.value} task for {work.enrollment.owner}",
        )
    )
    upcoming = next_touch(
        work.cadence,
        enrollment_id=work.enrollment.id,
        prospect=work.prospect,
        done_step=touch.step,
        anchor=touch.due_at,
    )
    if upcoming is not None:
        writes.next_touches.append(upcoming)
    else:  # the last step: completed (or handed over) once the task is written
        writes.finished.append((work.enrollment, work.prospect))
    return Claimed(touch.id, None)


def _prepare_email(
    ctx: AppContext,
    session: Session,
    work: _Work,
    rendered: _Rendered,
    batch: _Batch,
) -> _Composed | str:
    """Thread, quote and compose the email; if its mailbox may send it, the touch is
    ``sending`` with its Message-ID when this transaction commits, before anything leaves."""
    touch, prospect, sender, now = work.touch, work.prospect, work.sender, work.now
    assert touch.id is not None
    display = f"{sender.full_name} <{sender.email}>"
    replying = work.step.thread is Thread.REPLY
    parent = _thread_parent(batch, touch, display) if replying else None
    if replying and parent is None:
        skipped, enrollment = _models(session, work)
        skipped.attempts += 1
        skipped.started_at = now
        skipped.template_version = rendered.template_version
        skipped.status = TouchStatus.SKIPPED
        skipped.reason = "reply step has no earlier sent email in this enrollment to reply to"
        session.add(skipped)
        advance(
            session,
            ctx.catalog,
            enrollment=enrollment,
            prospect=prospect,
            done=skipped,
            now=now,
        )
        return "skipped:no-thread"
    subject = rendered.content.subject or ""
    body = rendered.content.body
    if parent is not None:
        subject = rendered.content.subject or reply_subject(parent.subject)
        body = quote_below(rendered.content.body, parent)
    domain = ctx.catalog.team.company.domain
    message_id = touch.message_id or new_message_id(touch.id, domain)
    row = _started_row(
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
    return _Composed(work, row, message)


def _thread_parent(batch: _Batch, touch: TouchView, sender_display: str) -> ThreadParent | None:
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

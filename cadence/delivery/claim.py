"""Claiming touches: check each may start now, render it, and either issue its task or
compose its email with the touch moved to ``sending``, under its enrollment's lock, in the
caller's transaction, which commits before anything leaves.

A worker claims a batch of touches in one transaction: the rows each check reads (touches,
enrollments, prospects, suppressions, mailbox counters) are read once for the batch, so a
claim costs a few statements and one commit per batch, not per touch.

A claim holds its enrollments' locks, which a reply's halt waits for, so on PostgreSQL
the batch is prepared before the claim begins (:func:`prepared_batch`): read without locks,
checked, rendered and composed, and its emails' sends reserved by one statement committed
at once (:class:`Reservation`). Under its locks the claim uses what was prepared for every
touch whose rows are unchanged, and checks and renders the rest as before; a mailbox that
could not reserve its sends has its counter row locked last. Rendering under the locks, a
claim held them for as long as its thread waited for the interpreter between its reads,
renders and writes (replies waited up to 150 ms with 16 worker threads on two cores);
locking every counter row first made a team's claims render one batch after another, each
waiting for all those queued before it.
"""

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from enum import Enum
from typing import Any

from sqlalchemy import Update, bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from cadence.authoring.catalog import Catalog
from cadence.authoring.config_files import Sender
from cadence.authoring.render_context import template_context
from cadence.authoring.rendering import RenderedContent
from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import (
    CadenceDefinition,
    Delay,
    EnrollmentState,
    Step,
    Thread,
    TouchStatus,
)
from cadence.core.errors import RenderError
from cadence.core.geography import time_zone
from cadence.core.scheduling import is_open
from cadence.delivery.compose import (
    OutgoingEmail,
    ThreadParent,
    compose,
    new_message_id,
    quote_below,
    reply_subject,
)
from cadence.delivery.send_limits import MailboxAllowance, Reservation
from cadence.runtime.context import AppContext
from cadence.sequences.enrollment import (
    INSERT_TOUCH,
    advance,
    complete_enrollments,
    contact_block,
    next_touch,
    plan_step,
)
from cadence.store.audit_log import audit_row, record_audits
from cadence.store.database import is_postgres
from cadence.store.models import TASKS, TOUCHES, Enrollment, Touch
from cadence.store.rows import (
    EnrollmentView,
    ProspectView,
    TouchView,
    batch_views,
    locked_touch_views,
    model_of,
    prospect_views,
    same_row,
)
from cadence.store.sql_lists import in_list
from cadence.store.suppressions import suppression_reasons
from cadence.store.transitions import fail_touch, move_enrollment, move_touch

log = logging.getLogger(__name__)

#: Attempts at a touch whose sends keep failing transiently before it is marked failed.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class NextStepInputs:
    """What planning a sent email's next step reads that no one changes while it is out: the
    touch's step, its enrollment and the enrollment's cadence, as the claim read them. The
    prospect is read again by the record (an edit during the batch's sends counts)."""

    cadence: str
    enrollment_id: int
    prospect_id: int
    step: int


@dataclass(frozen=True)
class Claimed:
    touch_id: int
    message: EmailMessage | None
    #: For an email; a task's next step is planned by its claim.
    next_step: NextStepInputs | None = None


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
).where(in_list(TOUCHES.c.enrollment_id, "ids"))


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


@dataclass(frozen=True)
class _ReadyTask:
    """A call or LinkedIn step rendered, to be issued as the owner's task."""

    work: _Work
    rendered: "_Rendered"


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
    ready: Mapping[int, "_Composed | _ReadyTask"] = field(default_factory=dict)

    def reusable_for(
        self, touch: TouchView, enrollment: EnrollmentView
    ) -> "_Composed | _ReadyTask | None":
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
        senders = [r.work.sender for r in ready.values() if isinstance(r, _Composed)]
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
) -> dict[int, "_Composed | _ReadyTask"]:
    """What each touch that may start now renders and composes to; the rest (held back,
    failing, already taken) are left to the claim, which records why under its locks."""
    found, prospects = batch_views(reader, touch_ids)
    attempts = _attempts(ctx, reader, _claimable(found.values()), now, prospects)
    return {i: a for i, a in attempts.items() if not isinstance(a, _NotNow)}


def _claimable(
    found: Iterable[tuple[TouchView, EnrollmentView]],
) -> list[tuple[TouchView, EnrollmentView]]:
    return [
        (touch, enrollment)
        for touch, enrollment in found
        if touch.status == TouchStatus.QUEUED and enrollment.state == EnrollmentState.ACTIVE
    ]


def _attempts(
    ctx: AppContext,
    session: Session,
    pairs: Sequence[tuple[TouchView, EnrollmentView]],
    now: datetime,
    prospects: Mapping[int, ProspectView] | None = None,
) -> dict[int, "_Composed | _ReadyTask | _NotNow"]:
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
    attempts = {}
    for work in works:
        assert work.touch.id is not None
        attempts[work.touch.id] = _attempt(ctx, work, batch)
    return attempts


def claim_touches(
    ctx: AppContext,
    session: Session,
    touch_ids: Sequence[int],
    prepared: PreparedBatch,
) -> dict[int, Claimed | str]:
    """For each touch: check, render and move it to ``sending`` (or issue its task); else
    say why not. Every touch of the batch shares the caller's transaction. A touch whose
    rows are as :func:`prepared_batch` read them takes what was prepared; the others are
    checked and rendered here. An email starts with a send reserved for it ahead, or taken
    from its mailbox's counters, locked then."""
    reservation = prepared.reservation
    now = reservation.now
    found = locked_touch_views(session, touch_ids)
    outcomes: dict[int, Claimed | str] = {}
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
    claimable = _claimable(found[i] for i in touch_ids if i in found)
    if not claimable:
        return outcomes
    reused: dict[int, _Composed | _ReadyTask] = {}
    for touch, enrollment in claimable:
        assert touch.id is not None
        if (ready := prepared.reusable_for(touch, enrollment)) is not None:
            reused[touch.id] = ready
    stale = [(t, e) for t, e in claimable if t.id not in reused]
    attempts: dict[int, _Composed | _ReadyTask | _NotNow] = {
        **_attempts(ctx, session, stale, now),
        **reused,
    }
    writes = _Writes()
    composed: list[_Composed] = []
    with session.no_autoflush:
        for touch, _ in claimable:
            assert touch.id is not None
            touch_id, attempt = touch.id, attempts[touch.id]
            if isinstance(attempt, _Composed):
                composed.append(attempt)
            elif isinstance(attempt, _ReadyTask):
                outcomes[touch_id] = _issue_task(attempt.work, attempt.rendered, writes)
            else:
                outcomes[touch_id] = _not_now(ctx, session, attempt, writes)
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
    work = email.work
    assert work.enrollment.id is not None
    next_step = NextStepInputs(
        work.enrollment.cadence, work.enrollment.id, work.touch.prospect_id, work.touch.step
    )
    return Claimed(email.touch_id, email.message, next_step)


class _Skip(Enum):
    """Why a touch may not start now, and what becomes of it (:func:`_not_now`)."""

    OUTSIDE_WINDOW = "skipped:outside-window"  # back to scheduled, for the window's opening
    NOT_CONTACTABLE = "skipped:not-contactable"  # skipped, the enrollment halted
    NO_THREAD = "skipped:no-thread"  # a reply step with nothing to reply to: skipped
    OUT_OF_ATTEMPTS = "failed"
    TEMPLATE_BLOCKED = "failed:lint"
    TEMPLATE_MISSING = "failed:template"
    RENDER_FAILED = "failed:render"


@dataclass(frozen=True)
class _NotNow:
    work: _Work
    skip: _Skip
    reason: str | None
    #: The no-thread skip records the template version it rendered.
    rendered: "_Rendered | None" = None


def _attempt(ctx: AppContext, work: _Work, batch: _Batch) -> "_Composed | _ReadyTask | _NotNow":
    """What the touch makes now: an email composed, a task rendered, or why not. No writes,
    so a batch can be prepared before its claim locks anything."""
    held = _why_held(work, batch)
    if held is not None:
        return held
    rendered = _render(ctx, work)
    if isinstance(rendered, _NotNow):
        return rendered
    if work.step.kind.is_task:
        return _ReadyTask(work, rendered)
    return _compose_email(ctx, work, rendered, batch)


def _not_now(ctx: AppContext, session: Session, not_now: _NotNow, writes: _Writes) -> str:
    """Record why the touch does not start: rescheduled, skipped or failed."""
    work, skip, now = not_now.work, not_now.skip, not_now.work.now
    if skip is _Skip.OUTSIDE_WINDOW:
        _later(writes, work, now, work.touch.reason)
    elif skip is _Skip.NOT_CONTACTABLE:
        assert not_now.reason is not None
        touch, enrollment = _models(session, work)
        move_touch(session, touch, TouchStatus.SKIPPED, reason=not_now.reason, now=now)
        move_enrollment(session, enrollment, EnrollmentState.HALTED, reason=not_now.reason, now=now)
    elif skip is _Skip.NO_THREAD:
        assert not_now.rendered is not None
        skipped, enrollment = _models(session, work)
        skipped.attempts += 1
        skipped.started_at = now
        skipped.template_version = not_now.rendered.template_version
        skipped.status = TouchStatus.SKIPPED
        skipped.reason = not_now.reason
        session.add(skipped)
        advance(
            session,
            ctx.catalog,
            enrollment=enrollment,
            prospect=work.prospect,
            done=skipped,
            now=now,
        )
    else:
        assert not_now.reason is not None
        fail_touch(session, *_models(session, work), not_now.reason, now, pause=True)
    return skip.value


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


def _why_held(work: _Work, batch: _Batch) -> _NotNow | None:
    """Why this touch may not start now (outside its window, prospect not contactable, out of
    attempts), else None. The send limits are checked last, by :func:`_take_send`."""
    touch, prospect, now = work.touch, work.prospect, work.now
    calendar = BusinessCalendar(prospect.country) if work.cadence.business_days else None
    window = work.cadence.window_for(work.step)
    if not is_open(now, window, time_zone(prospect.timezone), calendar):
        return _NotNow(work, _Skip.OUTSIDE_WINDOW, touch.reason)
    blocked = contact_block(prospect) or batch.suppressed.get(prospect.email)
    if blocked:
        return _NotNow(work, _Skip.NOT_CONTACTABLE, blocked)
    if touch.attempts >= MAX_ATTEMPTS:
        why = f"gave up after {touch.attempts} attempts: {touch.reason or 'transient errors'}"
        return _NotNow(work, _Skip.OUT_OF_ATTEMPTS, why)
    return None


@dataclass(frozen=True)
class _Rendered:
    content: RenderedContent
    template_version: str


def _render(ctx: AppContext, work: _Work) -> "_Rendered | _NotNow":
    """The touch's text for this prospect; a blocked, missing or failing template fails the
    touch and pauses the enrollment (:func:`_not_now`), and nothing is sent."""
    touch = work.touch
    if touch.template in ctx.catalog.blocked:
        why = f"template {touch.template} fails lint ({ctx.catalog.blocked[touch.template]}); "
        return _NotNow(work, _Skip.TEMPLATE_BLOCKED, why + "fix it and resume")
    template = ctx.catalog.templates.get(touch.template)
    if template is None:
        why = f"template {touch.template!r} no longer exists"
        return _NotNow(work, _Skip.TEMPLATE_MISSING, why)
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
        return _NotNow(work, _Skip.RENDER_FAILED, f"render failed: {exc}")
    return _Rendered(rendered, template.version)


def _unsubscribe_url(ctx: AppContext, work: _Work) -> str:
    base = ctx.settings.public_url.rstrip("/")
    return f"{base}/unsubscribe/{work.prospect.unsubscribe_token}"


def _issue_task(work: _Work, rendered: _Rendered, writes: _Writes) -> Claimed:
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


def _compose_email(
    ctx: AppContext, work: _Work, rendered: _Rendered, batch: _Batch
) -> "_Composed | _NotNow":
    """Thread, quote and compose the email; if its mailbox may send it, the touch is
    ``sending`` with its Message-ID when the claim commits, before anything leaves."""
    touch, prospect, sender, now = work.touch, work.prospect, work.sender, work.now
    assert touch.id is not None
    display = f"{sender.full_name} <{sender.email}>"
    replying = work.step.thread is Thread.REPLY
    parent = _thread_parent(batch, touch, display) if replying else None
    if replying and parent is None:
        why = "reply step has no earlier sent email in this enrollment to reply to"
        return _NotNow(work, _Skip.NO_THREAD, why, rendered)
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

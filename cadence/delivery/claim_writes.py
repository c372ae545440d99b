"""What a claim writes: the batch's usual outcomes (emails started, tasks issued, touches
moved later) as one executemany per kind when the claim ends, and the rare ones (skipped,
failed) through the ORM helpers."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Update, bindparam, insert, update
from sqlmodel import Session

from cadence.authoring.catalog import Catalog
from cadence.core.domain import (
    Delay,
    EnrollmentState,
    TouchStatus,
)
from cadence.core.outcomes import TouchOutcome
from cadence.core.planning import plan_step
from cadence.delivery.claimed import Claimed, NextStepInputs
from cadence.delivery.preparation import (
    ComposedEmail,
    NotNow,
    RenderedTouch,
    TouchWork,
    started_row,
    touch_models,
    touch_row,
)
from cadence.delivery.send_limits import MailboxAllowance
from cadence.runtime.context import AppContext
from cadence.sequences.progress import advance, complete_enrollments
from cadence.sequences.touch_plans import INSERT_TOUCH, next_touch
from cadence.store.audit_log import audit_row, record_audits
from cadence.store.models import TASKS, TOUCHES
from cadence.store.rows import (
    EnrollmentView,
    ProspectView,
)
from cadence.store.transitions import fail_touch, move_enrollment, move_touch

#: The columns a claim sets on an email it moves to ``sending``, or on a task's touch it
#: marks ``sent``; one statement shape each, so a batch is one executemany.
_EMAIL_COLUMNS = ("status", "attempts", "started_at", "template_version", "message_id",
                  "subject", "body", "in_reply_to", "references", "mailbox")  # fmt: skip


_TASK_COLUMNS = ("status", "attempts", "started_at", "template_version", "sent_at", "subject",
                 "body")  # fmt: skip


#: A touch that may not start now, back to ``scheduled`` for its next open slot.
_LATER_COLUMNS = ("status", "reason", "due_at")


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
class ClaimWrites:
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


def start_if_allowed(
    allowance: MailboxAllowance, email: ComposedEmail, writes: ClaimWrites
) -> Claimed | TouchOutcome:
    """The email starts if its mailbox may send now; else it moves to when it may (the
    composed message is dropped, and composed again then)."""
    limited = allowance.take(email.work.sender, now=email.work.now)
    if limited is not None:
        reschedule(writes, email.work, limited.not_before, f"moved: {limited.reason}")
        return TouchOutcome.SKIPPED_SEND_LIMIT
    return start_email(email, writes)


def start_email(email: ComposedEmail, writes: ClaimWrites) -> Claimed:
    writes.emails.append(email.row)
    work = email.work
    assert work.enrollment.id is not None
    next_step = NextStepInputs(
        work.enrollment.cadence, work.enrollment.id, work.touch.prospect_id, work.touch.step
    )
    return Claimed(
        email.touch_id, email.message, next_step, mailbox=work.sender.name, probing=email.probing
    )


def record_not_now(
    ctx: AppContext, session: Session, not_now: NotNow, writes: ClaimWrites
) -> TouchOutcome:
    """Record why the touch does not start: rescheduled, skipped or failed."""
    work, outcome, now = not_now.work, not_now.outcome, not_now.work.now
    if outcome is TouchOutcome.SKIPPED_OUTSIDE_WINDOW:
        reschedule(writes, work, now, work.touch.reason)
    elif outcome is TouchOutcome.SKIPPED_MAILBOX:
        reschedule(writes, work, not_now.not_before or now, not_now.reason)
    elif outcome is TouchOutcome.SKIPPED_NOT_CONTACTABLE:
        assert not_now.reason is not None
        touch, enrollment = touch_models(session, work)
        move_touch(session, touch, TouchStatus.SKIPPED, reason=not_now.reason, now=now)
        move_enrollment(session, enrollment, EnrollmentState.HALTED, reason=not_now.reason, now=now)
    elif outcome is TouchOutcome.SKIPPED_NO_THREAD:
        assert not_now.rendered is not None
        skipped, enrollment = touch_models(session, work)
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
        fail_touch(session, *touch_models(session, work), not_now.reason, now, pause=True)
    return outcome


def reschedule(
    writes: ClaimWrites, work: TouchWork, not_before: datetime, reason: str | None
) -> None:
    """Back to ``scheduled`` at the step's next open slot from ``not_before``."""
    assert work.touch.id is not None
    due_at = plan_step(
        cadence=work.cadence,
        step=replace(work.step, delay=Delay()),
        prospect=work.prospect,
        anchor=not_before,
    )
    writes.later.append(
        touch_row(work.touch.id, status=TouchStatus.SCHEDULED.value, reason=reason, due_at=due_at)
    )


def issue_task(work: TouchWork, rendered: RenderedTouch, writes: ClaimWrites) -> Claimed:
    """A call or LinkedIn step becomes a task for the owner and counts as done at once: a
    task never holds the cadence back, its next step counting from the task's due time."""
    touch, step, now = work.touch, work.step, work.now
    assert touch.id is not None and work.enrollment.id is not None
    title = rendered.content.subject or f"{step.channel.value} {work.prospect.email}"
    writes.task_touches.append(
        started_row(
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

"""The ``/api/v1`` request and response bodies; declared once, read from the store's rows."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cadence.core.domain import TaskOutcome
from cadence.web.params import NO_NUL, EmailText, Text


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProspectOut(_Out):
    id: int
    email: str
    first_name: str
    last_name: str
    company: str
    title: str
    persona: str | None
    timezone: str
    country: str | None
    stage: str
    owner: str
    custom: dict[str, str]
    do_not_contact: bool
    email_status: str
    created_at: datetime
    updated_at: datetime


class EnrollmentOut(_Out):
    id: int
    prospect_id: int
    cadence: str
    owner: str
    state: str
    reason: str | None
    enrolled_at: datetime
    updated_at: datetime
    first_touch_deadline: datetime | None
    resume_at: datetime | None


class ProspectDetail(ProspectOut):
    enrollments: list[EnrollmentOut]


class TouchOut(_Out):
    """A touch with its rendered content: exactly the subject and body that were sent."""

    id: int
    enrollment_id: int
    prospect_id: int
    step: int
    channel: str
    template: str
    template_version: str | None
    status: str
    due_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    sent_at: datetime | None
    subject: str | None
    body: str | None
    message_id: str | None
    in_reply_to: str | None
    reason: str | None


class EventOut(_Out):
    id: int
    prospect_id: int | None
    kind: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    detail: dict[str, Any]


class TaskOut(_Out):
    id: int
    owner: str
    channel: str
    prospect: str
    company: str
    title: str
    due_at: datetime
    status: str
    outcome: str | None
    cadence: str
    step: int
    instructions: str
    overdue: bool = False


class AuditEntryOut(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    prospect_id: int | None
    enrollment_id: int | None
    touch_id: int | None
    before: str | None
    after: str | None
    reason: str | None


class EnrollIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cadence: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    emails: list[EmailText] = Field(min_length=1, max_length=1000)
    owner: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    allow_replied: bool = Field(
        default=False, description="enroll prospects who already replied or booked a meeting"
    )


class EnrollOut(BaseModel):
    """``already_active``: live in the cadence already, so left alone (never enrolled twice)."""

    cadence: str
    enrolled: list[str]
    already_active: list[str]


class ControlIn(BaseModel):
    """Why a person paused, resumed or halted an enrollment; kept in the audit trail."""

    model_config = ConfigDict(extra="forbid")

    reason: Text | None = None


class TaskDoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: TaskOutcome


class Me(BaseModel):
    name: str
    role: str

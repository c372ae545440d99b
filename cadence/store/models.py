"""The store's tables. Foreign-key ids, not ``Relationship()``: rows are read explicitly.

Every datetime column is stored as naive UTC and read back as aware UTC (``UTCDateTime``), so
SQLite and PostgreSQL behave the same.
"""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Table, Text, UniqueConstraint, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is UTC:  # nearly every value: the clock's
            return value.replace(tzinfo=None)
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def _when(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


_LIVE = "state IN ('active', 'paused')"


class Prospect(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, description="lower-cased")
    first_name: str = ""
    last_name: str = ""
    company: str = Field(default="", index=True)
    title: str = ""
    persona: str | None = None
    timezone: str = "UTC"
    country: str | None = Field(default=None, max_length=2)
    stage: str = "names"
    owner: str = Field(index=True)
    custom: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    do_not_contact: bool = False
    email_status: str = "valid"
    unsubscribe_token: str = Field(unique=True, max_length=64)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Enrollment(SQLModel, table=True):
    __table_args__ = (
        Index(
            "uq_enrollment_live",
            "prospect_id",
            "cadence",
            unique=True,
            sqlite_where=text(_LIVE),
            postgresql_where=text(_LIVE),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    prospect_id: int = Field(foreign_key="prospect.id", index=True)
    cadence: str = Field(index=True)
    owner: str = Field(index=True)
    state: str = "active"
    reason: str | None = None
    enrolled_at: datetime = _when()
    updated_at: datetime = _when()
    first_touch_deadline: datetime | None = _when(default=None)
    resume_at: datetime | None = _when(default=None, index=True)


class Touch(SQLModel, table=True):
    """One step for one enrollment; exactly one row per (enrollment, step)."""

    __table_args__ = (
        UniqueConstraint("enrollment_id", "step", name="uq_touch_step"),
        Index("ix_touch_status_due", "status", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    #: Looked up through uq_touch_step, whose leading column it is (no index of its own).
    enrollment_id: int = Field(foreign_key="enrollment.id")
    prospect_id: int = Field(foreign_key="prospect.id", index=True)
    step: int
    channel: str
    template: str
    template_version: str | None = None
    status: str = "scheduled"
    due_at: datetime = _when()
    queued_at: datetime | None = _when(default=None)
    started_at: datetime | None = _when(default=None)
    sent_at: datetime | None = _when(default=None)
    subject: str | None = None
    body: str | None = Field(default=None, sa_type=Text)
    message_id: str | None = Field(default=None, unique=True)
    in_reply_to: str | None = None
    references: str | None = Field(default=None, sa_type=Text)
    reason: str | None = Field(default=None, sa_type=Text)
    #: The SDR (team.toml name) an email left as, set when its claim starts it: its From,
    #: and the mailbox whose caps, health and deliverability it counts against. A reply in
    #: the thread leaves from the same one, whoever owns the enrollment by then.
    mailbox: str | None = Field(default=None, max_length=100)
    attempts: int = 0
    enqueues: int = Field(default=0, description="times sent to the broker; capped")


class Task(SQLModel, table=True):
    """A call or LinkedIn touch for the prospect's owner to do by hand."""

    #: Open tasks by due time: the SDRs' queue and the overdue count read it.
    __table_args__ = (Index("ix_task_status_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    touch_id: int = Field(foreign_key="touch.id", unique=True)
    prospect_id: int = Field(foreign_key="prospect.id", index=True)
    owner: str = Field(index=True)
    channel: str
    title: str
    instructions: str = Field(sa_type=Text)
    due_at: datetime = _when()
    status: str = "open"
    outcome: str | None = None
    done_at: datetime | None = _when(default=None)


class Event(SQLModel, table=True):
    """An inbound or manual event, stored raw before it is interpreted."""

    id: int | None = Field(default=None, primary_key=True)
    prospect_id: int | None = Field(default=None, foreign_key="prospect.id", index=True)
    kind: str
    source: str
    occurred_at: datetime = _when()
    recorded_at: datetime = _when()
    dedupe_key: str | None = Field(default=None, unique=True)
    raw: str | None = Field(default=None, sa_type=Text)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    actor: str = "system"


class AuditEntry(SQLModel, table=True):
    """Append-only: who did what, when and why. Nothing updates or deletes these rows."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    actor: str
    action: str
    prospect_id: int | None = Field(default=None, index=True)
    enrollment_id: int | None = None
    touch_id: int | None = None
    before: str | None = None
    after: str | None = None
    reason: str | None = Field(default=None, sa_type=Text)


class Suppression(SQLModel, table=True):
    """An address or whole domain never to contact, whatever the cadence."""

    id: int | None = Field(default=None, primary_key=True)
    value: str = Field(unique=True, description="lower-cased address or domain")
    kind: str = "address"
    reason: str
    created_at: datetime = _when()


class TemplateVersion(SQLModel, table=True):
    """Each template text ever loaded, so a touch's ``template_version`` can be read back."""

    __table_args__ = (UniqueConstraint("name", "version", name="uq_template_version"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: str
    kind: str
    source: str = Field(sa_type=Text)
    first_seen_at: datetime = _when()


class User(SQLModel, table=True):
    """A person or system with an API token; only the token's hash is stored."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    role: str = Field(description="sdr, marketing, manager or admin")
    token_hash: str = Field(unique=True, max_length=128)
    created_at: datetime = _when()
    disabled: bool = False


class PageSession(SQLModel, table=True):
    """A signed-in browser of the pages: its cookie holds a random id of its own (never the
    API token) and only that id's hash is stored, so a copy of the store opens no session.
    Deleting the row is signing out."""

    id: int | None = Field(default=None, primary_key=True)
    id_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = _when()
    expires_at: datetime = _when(index=True)


class WebhookNonce(SQLModel, table=True):
    """A provider's one-time token or message id, kept so a replayed webhook changes nothing."""

    __table_args__ = (UniqueConstraint("provider", "nonce", name="uq_webhook_nonce"),)
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=40)
    nonce: str = Field(max_length=300)
    seen_at: datetime = _when(index=True)


class MailboxDay(SQLModel, table=True):
    """Emails started per sender mailbox and UTC day, and in its current throttle minute:
    the send limits read one row, not a count over every touch of the day or minute. The
    deliverability guard adds up a window of these rows: the day's hard bounces and
    complaints (counted on the day they arrive), less what a person forgave on resuming."""

    owner: str = Field(primary_key=True, max_length=100)
    day: date = Field(primary_key=True, index=True)
    started: int = 0
    window_started_at: datetime | None = _when(default=None)
    window_sent: int = 0
    hard_bounces: int = 0
    complaints: int = 0
    #: Bounces that rejected the sender, not the address (counted like complaints).
    rejections: int = 0
    #: ``started`` as it stood when a person resumed the mailbox: those sends no longer
    #: count for the guard, as the bounces and complaints of that time are cleared then.
    forgiven_sends: int = 0


class MailboxState(SQLModel, table=True):
    """An SDR mailbox's health, as the last connection or the deliverability guard left it.

    ``health`` is ``ok`` or why not (``authentication``, ``unreachable``, ``paused``); a
    mailbox that is not ``ok`` sends nothing until a person or a good connection clears it."""

    owner: str = Field(primary_key=True, max_length=100)
    health: str = Field(default="ok", max_length=40)
    reason: str | None = Field(default=None, max_length=500)
    changed_at: datetime = _when()
    last_sync_at: datetime | None = _when(default=None)
    #: A hard bounce or complaint was counted against this mailbox since the deliverability
    #: guard last judged it: the scheduler's tick asks this of a few rows, not the window.
    guard_due: bool = False


class MailboxFolder(SQLModel, table=True):
    """Where reading a mailbox folder got to: a restart reads nothing twice, and a new
    UIDVALIDITY (the server renumbered the folder) reads it again from the look-back."""

    owner: str = Field(primary_key=True, max_length=100)
    folder: str = Field(primary_key=True, max_length=200)
    uidvalidity: int = Field(sa_type=BigInteger)
    last_uid: int = Field(default=0, sa_type=BigInteger)
    synced_at: datetime = _when()


class MailboxLease(SQLModel, table=True):
    """Which ``mailboxes`` process reads a mailbox, until when: one reader a mailbox, and a
    stopped process's mailboxes taken over once its lease runs out."""

    owner: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=200)
    expires_at: datetime = _when(index=True)


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


#: The tables themselves, for the hot path's prebuilt Core statements: a batch's rows read or
#: written without the ORM's unit of work and identity map.
PROSPECTS = _table(Prospect)
ENROLLMENTS = _table(Enrollment)
TOUCHES = _table(Touch)
TASKS = _table(Task)
AUDIT_ENTRIES = _table(AuditEntry)
EVENTS = _table(Event)
SUPPRESSIONS = _table(Suppression)
MAILBOX_DAYS = _table(MailboxDay)
MAILBOX_STATES = _table(MailboxState)

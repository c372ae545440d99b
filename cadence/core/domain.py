"""The sales domain's values: kinds, states and the parsed shape of cadences and templates.

Pure: no I/O. Values are frozen so a loaded cadence cannot change under a running worker.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    CALL = "call"
    LINKEDIN = "linkedin"


class TemplateKind(StrEnum):
    CEO_EMAIL = "ceo_email"
    BUMP = "bump"
    DRIP = "drip"
    CHECK_IN = "check_in"
    CALL_TASK = "call_task"
    LINKEDIN_TASK = "linkedin_task"

    @property
    def channel(self) -> Channel:
        if self is TemplateKind.CALL_TASK:
            return Channel.CALL
        if self is TemplateKind.LINKEDIN_TASK:
            return Channel.LINKEDIN
        return Channel.EMAIL

    @property
    def is_task(self) -> bool:
        return self.channel is not Channel.EMAIL


class Stage(StrEnum):
    """The five stages of lead qualification, in order."""

    NAMES = "names"
    IN_PROFILE = "in_profile"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"

    @property
    def rank(self) -> int:
        return list(Stage).index(self)


class EnrollmentState(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    HALTED = "halted"


LIVE_ENROLLMENT_STATES = (EnrollmentState.ACTIVE, EnrollmentState.PAUSED)


class TouchStatus(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    UNCONFIRMED = "unconfirmed"


PENDING_TOUCH_STATUSES = (TouchStatus.SCHEDULED, TouchStatus.QUEUED)


class EventKind(StrEnum):
    REPLY = "reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    MEETING = "meeting"
    PAUSE = "pause"
    RESUME = "resume"
    HALT = "halt"
    #: A bounce that rejects the sender (a blocklist, spam filtering, policy, SPF/DKIM/DMARC,
    #: a rate limit), not the address: the prospect is left alone, the mailbox is counted.
    SENDER_REJECTED = "sender_rejected"
    UNKNOWN = "unknown"


#: Events after which nothing more may be sent to the prospect in any cadence.
STOPPING_EVENTS = (
    EventKind.REPLY,
    EventKind.BOUNCE,
    EventKind.COMPLAINT,
    EventKind.UNSUBSCRIBE,
    EventKind.MEETING,
)


class TaskOutcome(StrEnum):
    CONNECTED = "connected"
    VOICEMAIL = "voicemail"
    NO_ANSWER = "no_answer"
    SKIPPED = "skipped"


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SendWindow:
    """Hours of the prospect's local day when a touch may start; ``end`` is exclusive."""

    start: time
    end: time
    days: frozenset[int] = frozenset(range(5))  # Monday == 0

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("send window end must be after its start")
        if not self.days:
            raise ValueError("send window needs at least one day")

    @property
    def length(self) -> timedelta:
        return timedelta(
            hours=self.end.hour - self.start.hour, minutes=self.end.minute - self.start.minute
        )


#: When a call or LinkedIn task falls due, unless its step says otherwise.
DEFAULT_TASK_WINDOW = SendWindow(start=time(9, 0), end=time(17, 0))


@dataclass(frozen=True)
class Delay:
    """A step's delay after the previous step: whole (business) days, or an exact duration."""

    days: int = 0
    duration: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.days < 0 or self.duration < timedelta(0):
            raise ValueError("a delay cannot be negative")
        if self.days and self.duration:
            raise ValueError("a delay is either days or hours/minutes, not both")


class Thread(StrEnum):
    NEW = "new"
    REPLY = "reply"


class ReplyPolicy(StrEnum):
    HALT = "halt"
    HALT_ACCOUNT = "halt_account"


@dataclass(frozen=True)
class Step:
    """One planned touch of a cadence; ``number`` is 1-based."""

    number: int
    template: str
    kind: TemplateKind
    delay: Delay
    thread: Thread = Thread.NEW
    send_window: SendWindow | None = None
    variants: tuple[str, ...] = ()

    @property
    def channel(self) -> Channel:
        return self.kind.channel

    @property
    def templates(self) -> tuple[str, ...]:
        """Every template this step may use: its A/B variants, or just ``template``."""
        return self.variants or (self.template,)

    def template_for(self, key: str) -> str:
        """The variant for one enrollment: a stable hash of ``key``, so an enrollment keeps
        its variant and the split is even across enrollments."""
        if not self.variants:
            return self.template
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
        return self.variants[digest % len(self.variants)]


@dataclass(frozen=True)
class CadenceDefinition:
    name: str
    description: str
    steps: tuple[Step, ...]
    send_window: SendWindow
    business_days: bool = True
    on_reply: ReplyPolicy = ReplyPolicy.HALT
    on_complete: str | None = None
    min_stage: Stage | None = None
    source: str = ""

    def step(self, number: int) -> Step:
        return self.steps[number - 1]

    def window_for(self, step: Step) -> SendWindow:
        if step.send_window is not None:
            return step.send_window
        return DEFAULT_TASK_WINDOW if step.kind.is_task else self.send_window


@dataclass(frozen=True)
class TemplateDefinition:
    """A marketing template as loaded from ``templates/NAME.j2``.

    ``version`` is a content hash, so a touch records exactly the text it was rendered from.
    """

    name: str
    kind: TemplateKind
    subject: str | None
    body: str
    description: str
    version: str
    path: str
    body_start_line: int
    source: str = field(repr=False, default="")

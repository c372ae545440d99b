"""What one delivery attempt made of a touch: the word a worker logs and returns per touch.

A ``StrEnum`` so the words stay what logs and scripts already read (``sent``,
``skipped:outside-window``); the members are what code compares against."""

from enum import StrEnum

from cadence.core.domain import EnrollmentState, TouchStatus


class TouchOutcome(StrEnum):
    SENT = "sent"
    TASK_ISSUED = "task"
    #: Back to ``queued`` for the broker's retry (a transient send failure, or never tried).
    RETRYING = "retrying"
    UNCONFIRMED = "unconfirmed"
    #: The mail server refused it for good, or the touch ran out of attempts.
    FAILED = "failed"
    FAILED_ERROR = "failed:error"
    FAILED_LINT = "failed:lint"
    FAILED_TEMPLATE = "failed:template"
    FAILED_RENDER = "failed:render"
    SKIPPED_UNKNOWN_TOUCH = "skipped:unknown-touch"
    SKIPPED_OUTSIDE_WINDOW = "skipped:outside-window"
    SKIPPED_NOT_CONTACTABLE = "skipped:not-contactable"
    SKIPPED_NO_THREAD = "skipped:no-thread"
    SKIPPED_SEND_LIMIT = "skipped:send-limit"
    #: Its mailbox may not send now (a refused login, unreachable, paused): moved later.
    SKIPPED_MAILBOX = "skipped:mailbox"
    # The touch was no longer queued when its claim looked (another worker took it, or a
    # person settled it).
    SKIPPED_SCHEDULED = "skipped:scheduled"
    SKIPPED_SENDING = "skipped:sending"
    SKIPPED_SENT = "skipped:sent"
    SKIPPED_FAILED = "skipped:failed"
    SKIPPED_SKIPPED = "skipped:skipped"
    SKIPPED_CANCELLED = "skipped:cancelled"
    SKIPPED_UNCONFIRMED = "skipped:unconfirmed"
    # Its enrollment stopped being active before the touch left.
    SKIPPED_ENROLLMENT_PAUSED = "skipped:enrollment-paused"
    SKIPPED_ENROLLMENT_COMPLETED = "skipped:enrollment-completed"
    SKIPPED_ENROLLMENT_HALTED = "skipped:enrollment-halted"

    @classmethod
    def no_longer_queued(cls, status: TouchStatus) -> "TouchOutcome":
        return cls(f"skipped:{status.value}")

    @classmethod
    def enrollment_stopped(cls, state: EnrollmentState) -> "TouchOutcome":
        return cls(f"skipped:enrollment-{state.value}")

"""What a claim hands the sending loop for each touch it started."""

from dataclasses import dataclass
from email.message import EmailMessage


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
    #: For an email: the SDR whose mailbox sends it, and whether that mailbox was failing
    #: and is being tried again (a send that goes through marks it ``ok``).
    mailbox: str | None = None
    probing: bool = False

"""Next-step planning: when a cadence's next step falls due for a prospect, and whether the
prospect's own record allows a touch at all. Pure: the callers read the rows and write the
results."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cadence.core.business_calendar import BusinessCalendar
from cadence.core.domain import CadenceDefinition, Step
from cadence.core.geography import time_zone
from cadence.core.scheduling import plan_due_at


class ProspectFacts(Protocol):
    """What planning and the contact check read of a prospect (a row or a model)."""

    @property
    def email(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def country(self) -> str | None: ...
    @property
    def do_not_contact(self) -> bool: ...
    @property
    def email_status(self) -> str: ...


def plan_step(
    *, cadence: CadenceDefinition, step: Step, prospect: ProspectFacts, anchor: datetime
) -> datetime:
    """The due time of ``step`` for ``prospect``, counted from ``anchor``."""
    return plan_due_at(
        anchor=anchor,
        step=step,
        cadence=cadence,
        zone=time_zone(prospect.timezone),
        calendar=BusinessCalendar(prospect.country),
        jitter_key=f"{prospect.email}:{cadence.name}:{step.number}",
    )


def contact_block(prospect: ProspectFacts) -> str | None:
    """What the prospect's own row forbids; suppressions are checked on top of it."""
    if prospect.do_not_contact:
        return "marked do-not-contact"
    if prospect.email_status != "valid":
        return f"address is {prospect.email_status}"
    return None


@dataclass(frozen=True)
class NextStep:
    """The step after a done one: which template variant it sends, and when it falls due."""

    step: Step
    template: str
    due_at: datetime


def plan_next_step(
    cadence: CadenceDefinition,
    *,
    variant_key: str,
    prospect: ProspectFacts,
    done_step: int,
    anchor: datetime,
) -> NextStep | None:
    """The step after ``done_step`` (0 before the first), due counted from ``anchor``; None
    after the last step. ``variant_key`` splits A/B variants deterministically."""
    if done_step >= len(cadence.steps):
        return None
    step = cadence.step(done_step + 1)
    return NextStep(
        step=step,
        template=step.template_for(f"{variant_key}:{step.number}"),
        due_at=plan_step(cadence=cadence, step=step, prospect=prospect, anchor=anchor),
    )


def step_done_at(*, channel: str, due_at: datetime, sent_at: datetime | None) -> datetime:
    """What the next step counts from: a task never holds the cadence back, so its due
    time; an email, when it was sent."""
    return due_at if channel != "email" or sent_at is None else sent_at

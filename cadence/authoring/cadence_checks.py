"""``cadence cadences validate``: what a loaded cadence may still get wrong for selling.

Pure over loaded definitions: warnings for the rule of seven touches and single-channel
cadences, errors for reply steps with nothing to reply to.
"""

from dataclasses import dataclass

from cadence.core.domain import CadenceDefinition, Channel, Thread

SEVEN_TOUCHES = 7


@dataclass(frozen=True)
class CadenceFinding:
    rule: str
    severity: str
    file: str
    step: int | None
    message: str


def check_cadence(cadence: CadenceDefinition) -> list[CadenceFinding]:
    found: list[CadenceFinding] = []
    if len(cadence.steps) < SEVEN_TOUCHES:
        found.append(
            CadenceFinding(
                "fewer-than-seven-touches",
                "warning",
                cadence.source,
                None,
                f"{cadence.name} has {len(cadence.steps)} touches; the rule of seven touches says "
                "a prospect needs about seven before trust forms",
            )
        )
    channels = {step.channel for step in cadence.steps}
    if len(channels) == 1:
        only = next(iter(channels)).value
        found.append(
            CadenceFinding(
                "single-channel",
                "warning",
                cadence.source,
                None,
                f"every step of {cadence.name} is {only}; mix in calls or LinkedIn touches",
            )
        )
    for step in cadence.steps:
        if step.thread is Thread.REPLY and not any(
            s.channel is Channel.EMAIL for s in cadence.steps[: step.number - 1]
        ):
            found.append(
                CadenceFinding(
                    "reply-without-thread",
                    "error",
                    cadence.source,
                    step.number,
                    f"step {step.number} ({step.template}) replies in a thread, but no earlier "
                    "step is an email",
                )
            )
    return found

"""``cadence cadences validate``: what a loaded cadence may still get wrong for selling.

Pure over loaded definitions: warnings for the rule of seven touches and single-channel
cadences, errors for reply steps with nothing to reply to, steps whose template is blocked
by lint, hand-overs to a cadence that cannot run, and hand-overs that come back round.
"""

from collections.abc import Mapping
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


def handover_cycles(cadences: Mapping[str, CadenceDefinition]) -> list[tuple[str, ...]]:
    """Each ``on_complete`` chain that comes back to where it started, once, as the names
    in order with the first repeated at the end (``("a", "b", "a")``): a prospect in it
    would be handed round for ever."""
    cycles: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for start in sorted(cadences):
        path: list[str] = []
        name: str | None = start
        while name is not None and name in cadences and name not in seen:
            seen.add(name)
            path.append(name)
            name = cadences[name].on_complete
        if name is not None and name in path:
            loop = path[path.index(name) :]
            cycles.append((*loop, name))
    return cycles


def unusable_cadences(
    cadences: Mapping[str, CadenceDefinition], blocked: Mapping[str, str]
) -> dict[str, str]:
    """The cadences nobody may be enrolled in, and why: those with an error from
    :func:`check_cadence`, a step whose template is blocked by lint, or a hand-over to an
    unusable cadence."""
    why: dict[str, str] = {}
    for cadence in cadences.values():
        errors = [f.message for f in check_cadence(cadence) if f.severity == "error"]
        errors += [
            f"step {step.number}: template {name} cannot be sent: {blocked[name]}"
            for step in cadence.steps
            for name in step.templates
            if name in blocked
        ]
        if errors:
            why[cadence.name] = f"{cadence.source}: {errors[0]}"
    changed = True
    while changed:  # hand-overs to an unusable cadence, however far down the chain
        changed = False
        for cadence in cadences.values():
            target = cadence.on_complete
            if cadence.name not in why and target in why:
                why[cadence.name] = (
                    f"{cadence.source}: on_complete: hands over to {target}, which cannot run"
                )
                changed = True
    return why

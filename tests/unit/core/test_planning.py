"""Next-step planning and the contact check, tried with tables of cases."""

from dataclasses import dataclass
from datetime import UTC, datetime, time

import pytest

from cadence.core.domain import CadenceDefinition, Delay, SendWindow, Step, TemplateKind
from cadence.core.planning import contact_block, plan_next_step, plan_step, step_done_at

WINDOW = SendWindow(start=time(7, 30), end=time(9, 30))
MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Prospect:
    email: str = "dana@hooli.example"
    timezone: str = "Europe/Berlin"
    country: str | None = "DE"
    do_not_contact: bool = False
    email_status: str = "valid"


def _cadence(*templates: str | tuple[str, ...]) -> CadenceDefinition:
    steps = tuple(
        Step(
            number=n,
            template=template if isinstance(template, str) else template[0],
            kind=TemplateKind.CEO_EMAIL,
            delay=Delay(days=0 if n == 1 else 2),
            variants=() if isinstance(template, str) else template,
        )
        for n, template in enumerate(templates, start=1)
    )
    return CadenceDefinition(name="t", description="", steps=steps, send_window=WINDOW)


@pytest.mark.parametrize(
    ("done_step", "expected_step"), [(0, 1), (1, 2), (2, 3), (3, None), (7, None)]
)
def test_the_step_after_the_done_one(done_step: int, expected_step: int | None) -> None:
    cadence = _cadence("a", "b", "c")
    planned = plan_next_step(
        cadence, variant_key="9", prospect=Prospect(), done_step=done_step, anchor=MONDAY_NOON
    )
    if expected_step is None:
        assert planned is None
        return
    assert planned is not None
    step = cadence.step(expected_step)
    assert planned.step == step
    assert planned.template == step.template_for(f"9:{expected_step}")
    assert planned.due_at == plan_step(
        cadence=cadence, step=step, prospect=Prospect(), anchor=MONDAY_NOON
    )
    assert planned.due_at > MONDAY_NOON


def test_variants_split_by_the_key_and_stay_put_for_it() -> None:
    cadence = _cadence(("a", "b"))
    chosen = {
        key: plan_next_step(
            cadence, variant_key=key, prospect=Prospect(), done_step=0, anchor=MONDAY_NOON
        )
        for key in map(str, range(40))
    }
    templates = {p.template for p in chosen.values() if p is not None}
    assert templates == {"a", "b"}
    again = plan_next_step(
        cadence, variant_key="7", prospect=Prospect(), done_step=0, anchor=MONDAY_NOON
    )
    assert again == chosen["7"]


@pytest.mark.parametrize(
    ("channel", "sent_at", "expected"),
    [
        ("email", datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 7, 9, tzinfo=UTC)),
        ("email", None, MONDAY_NOON),  # never sent (skipped): counts from when it was due
        ("call", datetime(2026, 12, 9, tzinfo=UTC), MONDAY_NOON),  # a task never holds back
        ("linkedin", None, MONDAY_NOON),
    ],
)
def test_what_the_next_step_counts_from(
    channel: str, sent_at: datetime | None, expected: datetime
) -> None:
    assert step_done_at(channel=channel, due_at=MONDAY_NOON, sent_at=sent_at) == expected


@pytest.mark.parametrize(
    ("prospect", "expected"),
    [
        (Prospect(), None),
        (Prospect(do_not_contact=True), "marked do-not-contact"),
        (Prospect(email_status="bounced"), "address is bounced"),
        (Prospect(do_not_contact=True, email_status="bounced"), "marked do-not-contact"),
    ],
)
def test_contact_block(prospect: Prospect, expected: str | None) -> None:
    assert contact_block(prospect) == expected

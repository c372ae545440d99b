"""The report's arithmetic on hand-made rows: credit to the last touch before a reply."""

from datetime import UTC, datetime, timedelta

import pytest

from cadence.core.report_figures import (
    EnrollmentRow,
    EventRow,
    TouchRow,
    build_report,
    compare_variants,
    two_proportion_p_value,
)

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _touches(enrollment_id: int, steps: int) -> list[TouchRow]:
    return [
        TouchRow(
            enrollment_id,
            step,
            "email" if step != 3 else "call",
            f"t{step}",
            "v1",
            "sent",
            T0 + timedelta(days=step),
        )
        for step in range(1, steps + 1)
    ]


def test_reply_credited_to_last_touch_before_it_and_rates() -> None:
    enrollments = [
        EnrollmentRow(1, 10, "seven-touch", "alex", T0),
        EnrollmentRow(2, 20, "seven-touch", "alex", T0),
        EnrollmentRow(3, 30, "seven-touch", "priya", T0),
    ]
    touches = _touches(1, 4) + _touches(2, 7) + _touches(3, 2)
    events = [
        EventRow(10, "reply", T0 + timedelta(days=3, hours=5)),  # after step 3
        EventRow(30, "unsubscribe", T0 + timedelta(days=1, hours=1)),
    ]
    report = build_report(enrollments, touches, events)
    (cadence,) = report["cadences"]
    assert cadence["enrolled"] == 3
    assert cadence["replies"] == 1
    assert cadence["unsubscribes"] == 1
    assert cadence["reply_rate"] == round(1 / 3, 4)
    assert cadence["touches"] == {"email": 11, "call": 2}
    assert cadence["reached_touch_7_share"] == round(1 / 3, 4)
    assert cadence["median_touches_before_reply"] == 3
    assert cadence["median_hours_to_first_touch"] == 24.0
    step3 = next(r for r in report["steps"] if r["step"] == 3)
    assert (step3["sent"], step3["replies"]) == (2, 1)
    owners = {r["owner"]: r for r in report["owners"]}
    assert (owners["alex"]["replies"], owners["priya"]["replies"]) == (1, 0)


def test_empty_store_gives_an_empty_report() -> None:
    report = build_report([], [], [])
    assert report["cadences"] == [] and report["best_steps"] == []


@pytest.mark.parametrize(
    ("a", "b", "winner"),
    [
        ((30, 100), (10, 100), "ceo/a"),  # 30% vs 10%: p about 0.0004
        ((12, 100), (10, 100), None),  # 12% vs 10%: chance
        ((9, 20), (1, 20), None),  # big gap, too few sends
        ((10, 100), (30, 100), "ceo/b"),
    ],
)
def test_ab_winner_only_when_significant(
    a: tuple[int, int], b: tuple[int, int], winner: str | None
) -> None:
    rows = [
        {"cadence": "c", "step": 1, "template": name, "replies": r, "sent": n, "reply_rate": r / n}
        for name, (r, n) in (("ceo/a", a), ("ceo/b", b))
    ] + [
        {"cadence": "c", "step": 2, "template": "solo", "replies": 1, "sent": 5, "reply_rate": 0.2}
    ]
    (comparison,) = compare_variants(rows)
    assert comparison["winner"] == winner
    assert [v["template"] for v in comparison["variants"]] == ["ceo/a", "ceo/b"]


def test_p_value_matches_a_known_case() -> None:
    # 30/100 vs 10/100: z = 3.536, two-sided p = 0.000407
    assert two_proportion_p_value(30, 100, 10, 100) == pytest.approx(0.000407, abs=2e-6)
    assert two_proportion_p_value(0, 0, 1, 10) == 1.0


def test_best_and_worst_need_twenty_sends() -> None:
    enrollments = [EnrollmentRow(i, i, "c", "alex", T0) for i in range(1, 26)]
    touches = [
        TouchRow(i, 1, "email", "good" if i <= 25 else "x", "v1", "sent", T0 + timedelta(hours=1))
        for i in range(1, 26)
    ]
    events = [EventRow(i, "reply", T0 + timedelta(hours=2)) for i in range(1, 6)]
    report = build_report(enrollments, touches, events)
    assert [(r["template"], r["sent"], r["replies"]) for r in report["best_templates"]] == [
        ("good", 25, 5)
    ]
    assert report["best_steps"][0]["reply_rate"] == 0.2
    few = build_report(enrollments[:5], touches[:5], events)
    assert few["best_templates"] == [] and few["worst_steps"] == []

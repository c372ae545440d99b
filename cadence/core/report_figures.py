"""What works: per cadence, step, template version and owner. Pure: rows in, report out.

A reply is credited to the last touch the prospect received before it, in the enrollment
that was live when it came; that is the step and template that worked.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

SEVENTH_TOUCH = 7
#: Steps and templates need this many sends before they are ranked best or worst.
MIN_SENDS_TO_RANK = 20
#: A variant needs this many sends before a comparison means anything.
MIN_SENDS_PER_VARIANT = 30
#: Two-sided significance level for calling an A/B winner.
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class EnrollmentRow:
    id: int
    prospect_id: int
    cadence: str
    owner: str
    enrolled_at: datetime


@dataclass(frozen=True)
class TouchRow:
    enrollment_id: int
    step: int
    channel: str
    template: str
    template_version: str | None
    status: str
    sent_at: datetime | None


@dataclass(frozen=True)
class EventRow:
    prospect_id: int
    kind: str
    at: datetime


def two_proportion_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """Two-sided p-value that two reply rates differ only by chance (pooled z-test)."""
    if not n_a or not n_b:
        return 1.0
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:
        return 1.0
    z = abs(hits_a / n_a - hits_b / n_b) / spread
    return math.erfc(z / math.sqrt(2))


def compare_variants(step_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each step with A/B variants: the variants' counts, and a winner only when the
    best beats every other with p < SIGNIFICANCE and each has enough sends."""
    by_step: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in step_rows:
        by_step[(row["cadence"], row["step"])].append(row)
    comparisons = []
    for (cadence, step), rows in sorted(by_step.items()):
        if len(rows) < 2:
            continue
        best = max(rows, key=lambda r: r["reply_rate"])
        others = [r for r in rows if r is not best]
        p_value = max(
            two_proportion_p_value(best["replies"], best["sent"], r["replies"], r["sent"])
            for r in others
        )
        enough = all(r["sent"] >= MIN_SENDS_PER_VARIANT for r in rows)
        winner = best["template"] if enough and p_value < SIGNIFICANCE else None
        if winner:
            verdict = f"{winner} wins (p = {p_value:.3f})"
        elif not enough:
            verdict = f"too early: every variant needs {MIN_SENDS_PER_VARIANT} sends"
        else:
            verdict = f"no winner yet (p = {p_value:.2f})"
        comparisons.append(
            {
                "cadence": cadence,
                "step": step,
                "winner": winner,
                "p_value": round(p_value, 4),
                "verdict": verdict,
                "variants": [
                    {k: r[k] for k in ("template", "sent", "replies", "reply_rate")} for r in rows
                ],
            }
        )
    return comparisons


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def build_report(
    enrollments: list[EnrollmentRow], touches: list[TouchRow], events: list[EventRow]
) -> dict[str, Any]:
    by_enrollment: dict[int, list[TouchRow]] = defaultdict(list)
    for touch in touches:
        if touch.status == "sent" and touch.sent_at is not None:
            by_enrollment[touch.enrollment_id].append(touch)
    for sent in by_enrollment.values():
        sent.sort(key=lambda t: t.sent_at.timestamp() if t.sent_at else 0.0)
    outcome: dict[int, tuple[str, datetime]] = {}
    for event in sorted(events, key=lambda e: e.at):
        if event.kind in ("reply", "bounce", "unsubscribe", "complaint"):
            outcome.setdefault(event.prospect_id, (event.kind, event.at))

    cadences: dict[str, dict[str, Any]] = {}
    steps: dict[tuple[str, int, str], dict[str, int]] = defaultdict(
        lambda: {"sent": 0, "replies": 0}
    )
    templates: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"sent": 0, "replies": 0}
    )
    owners: dict[str, dict[str, int]] = defaultdict(
        lambda: {"enrolled": 0, "touches": 0, "replies": 0}
    )
    first_touch_hours: dict[str, list[float]] = defaultdict(list)
    touches_before_reply: dict[str, list[int]] = defaultdict(list)
    for enrollment in enrollments:
        c = cadences.setdefault(
            enrollment.cadence,
            {
                "cadence": enrollment.cadence,
                "enrolled": 0,
                "touches": defaultdict(int),
                "replies": 0,
                "bounces": 0,
                "unsubscribes": 0,
                "reached_touch_7": 0,
            },
        )
        c["enrolled"] += 1
        owners[enrollment.owner]["enrolled"] += 1
        sent = by_enrollment.get(enrollment.id, [])
        result = outcome.get(enrollment.prospect_id)
        if result is not None:
            sent_before = [t for t in sent if t.sent_at and t.sent_at <= result[1]]
        else:
            sent_before = sent
        for touch in sent:
            c["touches"][touch.channel] += 1
            owners[enrollment.owner]["touches"] += 1
            steps[(enrollment.cadence, touch.step, touch.template)]["sent"] += 1
            templates[(touch.template, touch.template_version or "?")]["sent"] += 1
        if sent and sent[0].sent_at:
            hours = (sent[0].sent_at - enrollment.enrolled_at).total_seconds() / 3600
            first_touch_hours[enrollment.cadence].append(hours)
        if any(t.step >= SEVENTH_TOUCH for t in sent_before):
            c["reached_touch_7"] += 1
        if result is None or not sent_before or result[1] < enrollment.enrolled_at:
            continue
        kind = result[0]
        if kind == "reply":
            last = sent_before[-1]
            c["replies"] += 1
            owners[enrollment.owner]["replies"] += 1
            steps[(enrollment.cadence, last.step, last.template)]["replies"] += 1
            templates[(last.template, last.template_version or "?")]["replies"] += 1
            touches_before_reply[enrollment.cadence].append(len(sent_before))
        elif kind == "bounce":
            c["bounces"] += 1
        else:
            c["unsubscribes"] += 1

    cadence_rows = []
    for name, c in sorted(cadences.items()):
        c["touches"] = dict(c["touches"])
        c["reply_rate"] = _rate(c["replies"], c["enrolled"])
        c["reached_touch_7_share"] = _rate(c.pop("reached_touch_7"), c["enrolled"])
        waits = first_touch_hours.get(name)
        c["median_hours_to_first_touch"] = round(median(waits), 1) if waits else None
        counts = touches_before_reply.get(name)
        c["median_touches_before_reply"] = median(counts) if counts else None
        cadence_rows.append(c)
    step_rows: list[dict[str, Any]] = [
        {
            "cadence": k[0],
            "step": k[1],
            "template": k[2],
            **v,
            "reply_rate": _rate(v["replies"], v["sent"]),
        }
        for k, v in sorted(steps.items())
    ]
    template_rows: list[dict[str, Any]] = [
        {"template": k[0], "version": k[1], **v, "reply_rate": _rate(v["replies"], v["sent"])}
        for k, v in sorted(templates.items())
    ]
    owner_rows = [
        {"owner": k, **v, "reply_rate": _rate(v["replies"], v["enrolled"])}
        for k, v in sorted(owners.items())
    ]
    ranked = sorted(
        (r for r in step_rows if r["sent"] >= MIN_SENDS_TO_RANK), key=lambda r: r["reply_rate"]
    )
    ranked_templates = sorted(
        (r for r in template_rows if r["sent"] >= MIN_SENDS_TO_RANK),
        key=lambda r: r["reply_rate"],
    )
    return {
        "cadences": cadence_rows,
        "steps": step_rows,
        "templates": template_rows,
        "owners": owner_rows,
        "variants": compare_variants(step_rows),
        "best_steps": ranked[::-1][:3],
        "best_templates": ranked_templates[::-1][:3],
        "worst_templates": ranked_templates[:3],
        "worst_steps": ranked[:3],
    }

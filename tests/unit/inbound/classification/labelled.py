"""The labelled samples of tests/fixtures/inbound/manifest.toml, and the measures taken on them.

Shared by the fixture tests and bench/classification_accuracy.py so that both count the same
way. Every expectation comes from the manifest's labels, never from the classifier.
"""

from __future__ import annotations

import datetime
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path
from zoneinfo import ZoneInfo

from cadence.inbound.classification import Verdict, classify_message

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "inbound"
MANIFEST = FIXTURES / "manifest.toml"
# A Monday morning in Berlin: return dates without a year resolve from here.
RECEIVED_AT = datetime.datetime(2027, 3, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
ADDRESS_IS_BAD = ("user_unknown", "host_unknown")
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")


@dataclass(frozen=True)
class Sample:
    file: str
    kind: str
    source: str
    bounce: str | None = None
    reason: str | None = None
    addresses: tuple[str, ...] | None = None
    return_date: datetime.date | None = None
    known_miss: str | None = None

    @property
    def raw(self) -> bytes:
        return (FIXTURES / self.file).read_bytes()

    @property
    def legacy(self) -> bool:
        """A bounce in a vendor's own format: no RFC 3464 delivery-status part."""
        msg = message_from_bytes(self.raw, policy=compat32)
        return not any(part.get_content_type() in _DSN_TYPES for part in msg.walk())


def load_samples() -> list[Sample]:
    with MANIFEST.open("rb") as handle:
        rows = tomllib.load(handle)["samples"]
    samples = []
    for row in rows:
        addresses = row.get("addresses")
        samples.append(
            Sample(
                file=row["file"],
                kind=row["kind"],
                source=row["source"],
                bounce=row.get("bounce"),
                reason=row.get("reason"),
                addresses=tuple(addresses) if addresses is not None else None,
                return_date=row.get("return_date"),
                known_miss=row.get("known_miss"),
            )
        )
    return samples


def classify(sample: Sample) -> Verdict:
    return classify_message(sample.raw, received_at=RECEIVED_AT)


def mismatches(sample: Sample, verdict: Verdict) -> list[str]:
    """Each labelled field the verdict gets wrong, as ``field: expected != got``."""
    wrong: list[str] = []
    checks: list[tuple[str, object, object]] = [("kind", sample.kind, verdict.kind)]
    if sample.bounce is not None:
        checks.append(("bounce", sample.bounce, verdict.bounce))
    if sample.reason is not None:
        checks.append(("reason", sample.reason, verdict.bounce_reason))
    if sample.addresses is not None and sample.kind in ("bounce", "complaint"):
        checks.append(("addresses", sorted(sample.addresses), sorted(verdict.addresses)))
    if sample.return_date is not None or sample.kind == "auto_reply":
        checks.append(("return_date", sample.return_date, verdict.return_date))
    for name, expected, got in checks:
        if expected != got:
            wrong.append(f"{name}: {expected!r} != {got!r}")
    return wrong


@dataclass(frozen=True)
class Measure:
    name: str
    count: int
    total: int
    # True: a share of successes (higher is better); False: a count of errors (0 is right).
    share: bool = True

    def shown(self) -> str:
        if not self.share:
            return f"{self.count} of {self.total}"
        percent = 100 * self.count / self.total if self.total else 0.0
        return f"{self.count}/{self.total} ({percent:.0f}%)"


Pair = tuple[Sample, Verdict]


def _measure(
    name: str,
    pairs: Iterable[Pair],
    among: Callable[[Sample], bool],
    counts: Callable[[Sample, Verdict], bool],
    *,
    share: bool = True,
) -> Measure:
    chosen = [(sample, verdict) for sample, verdict in pairs if among(sample)]
    hits = sum(1 for sample, verdict in chosen if counts(sample, verdict))
    return Measure(name, hits, len(chosen), share)


def measures(pairs: list[Pair]) -> list[Measure]:
    """The issue's measures, where the labels have samples of that kind."""

    def bounce(sample: Sample) -> bool:
        return sample.kind == "bounce"

    def hard(verdict: Verdict) -> bool:
        return verdict.kind == "bounce" and verdict.bounce == "hard"

    return [
        _measure(
            "auto-replies recognised",
            pairs,
            lambda s: s.kind == "auto_reply",
            lambda s, v: v.kind == "auto_reply",
        ),
        _measure(
            "challenge-response recognised",
            pairs,
            lambda s: s.kind == "challenge",
            lambda s, v: v.kind == "challenge",
        ),
        _measure(
            "challenge-response taken for hard bounces",
            pairs,
            lambda s: s.kind == "challenge",
            lambda s, v: hard(v),
            share=False,
        ),
        _measure("bounces detected, all formats", pairs, bounce, lambda s, v: v.kind == "bounce"),
        _measure(
            "bounces from legacy/vendor formats detected",
            pairs,
            lambda s: bounce(s) and s.legacy,
            lambda s, v: v.kind == "bounce",
        ),
        _measure(
            "bounced address found",
            pairs,
            lambda s: bounce(s) and bool(s.addresses),
            lambda s, v: sorted(v.addresses) == sorted(s.addresses or ()),
        ),
        _measure(
            "bounces saying user or host unknown, called hard",
            pairs,
            lambda s: bounce(s) and s.reason in ADDRESS_IS_BAD,
            lambda s, v: hard(v),
        ),
        _measure(
            "bounces labelled soft, called hard",
            pairs,
            lambda s: bounce(s) and s.bounce == "soft",
            lambda s, v: hard(v),
            share=False,
        ),
        _measure(
            "non-bounce mail taken for a hard bounce",
            pairs,
            lambda s: not bounce(s),
            lambda s, v: hard(v),
            share=False,
        ),
        _measure(
            "bounces: hard/soft as labelled",
            pairs,
            lambda s: bounce(s) and s.bounce is not None,
            lambda s, v: v.bounce == s.bounce,
        ),
        _measure(
            "bounces: reason as labelled",
            pairs,
            lambda s: bounce(s) and s.reason is not None,
            lambda s, v: v.bounce_reason == s.reason,
        ),
        _measure(
            "complaint (ARF) reports recognised",
            pairs,
            lambda s: s.kind == "complaint",
            lambda s, v: v.kind == "complaint",
        ),
        _measure(
            "return date as labelled",
            pairs,
            lambda s: s.return_date is not None,
            lambda s, v: v.return_date == s.return_date,
        ),
        _measure(
            "kind as labelled, all samples", pairs, lambda s: True, lambda s, v: v.kind == s.kind
        ),
    ]

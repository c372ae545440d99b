"""The closing count of a fault test: each touch's status in the store against what the SMTP
server received for it (by ``X-Cadence-Touch``)."""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime


def as_utc(value: datetime | None) -> datetime | None:
    """The store keeps UTC without an offset; read back, it is made aware again."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TouchRow:
    id: int
    prospect_id: int
    step: int
    status: str
    started_at: datetime | None
    reason: str | None
    enqueues: int
    attempts: int


@dataclass
class Tally:
    """The closing count of a fault test: what the store says against what the server got."""

    name: str
    touches: dict[int, TouchRow]
    received: Counter[int]
    allowed: frozenset[str]

    @property
    def sent(self) -> int:
        return sum(1 for t in self.touches.values() if t.status == "sent")

    @property
    def unconfirmed(self) -> int:
        return sum(1 for t in self.touches.values() if t.status == "unconfirmed")

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.received.values() if n > 1)

    @property
    def lost_ids(self) -> list[int]:
        """Touches that ended nowhere allowed, and touches recorded ``sent`` that the server
        never received."""
        return sorted(
            t.id
            for t in self.touches.values()
            if t.status not in self.allowed or (t.status == "sent" and not self.received[t.id])
        )

    @property
    def untracked_ids(self) -> list[int]:
        """Emails the server received for touches the store does not count as started."""
        return sorted(
            touch_id
            for touch_id in self.received
            if touch_id not in self.touches
            or self.touches[touch_id].status not in {"sent", "unconfirmed"}
        )

    def by_status(self) -> Counter[str]:
        return Counter(t.status for t in self.touches.values())

    def line(self) -> str:
        return (
            f"FAULT {self.name}: sent={self.sent} duplicates={self.duplicates} "
            f"lost={len(self.lost_ids)} unconfirmed={self.unconfirmed}"
        )

    def detail(self) -> str:
        reasons = Counter(
            f"{t.status}: {(t.reason or '-')[:90]}"
            for t in self.touches.values()
            if t.status != "sent"
        )
        lines = [
            f"  {self.name}: touches={len(self.touches)} received={sum(self.received.values())} "
            f"by_status={dict(sorted(self.by_status().items()))}"
        ]
        lines += [f"    {n} x {reason}" for reason, n in reasons.most_common(6)]
        unconfirmed = [t for t in self.touches.values() if t.status == "unconfirmed"]
        if unconfirmed:
            got = sum(1 for t in unconfirmed if self.received[t.id])
            lines.append(f"    of the unconfirmed, {got} reached the SMTP server")
        return "\n".join(lines)

    def assert_clean(self) -> None:
        """None lost, none sent twice, nothing the store does not know about."""
        problems = []
        if self.duplicates:
            twice = sorted(t for t, n in self.received.items() if n > 1)
            problems.append(f"{self.duplicates} duplicate emails, touches {twice[:20]}")
        if self.lost_ids:
            rows = [self.touches[i] for i in self.lost_ids[:10]]
            problems.append(f"{len(self.lost_ids)} touches lost: {rows}")
        if self.untracked_ids:
            strays = [self.touches.get(i) for i in self.untracked_ids[:10]]
            problems.append(f"emails received for touches not sent/unconfirmed: {strays}")
        for touch in self.touches.values():
            if touch.status in {"unconfirmed", "failed"} and not touch.reason:
                problems.append(f"touch {touch.id} is {touch.status} without a reason")
        assert not problems, f"{self.line()}\n" + "\n".join(problems)

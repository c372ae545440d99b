"""Invariant 2 under load: replies recorded while a thousand touches of the same cadence are in
flight. No email of a prospect starts after that prospect's reply commits, and every email that
did start is sent once.

The commit time of a reply is bounded from above by the moment the call that recorded it
returned, so "started before the reply committed" is checked as ``started_at`` (stamped in the
worker's claim, committed before the send) at or before that moment: never a false alarm, and
any touch claimed after the reply is caught. The event's ``recorded_at`` is read before the
reply's transaction takes its locks, so it is not the commit time.

Three rounds: one reply by hand (``cadence event reply``) from a prospect whose next email waits
behind the thousand others'; then replies from prospects picked because a touch of theirs is
being sent, or queued, at that moment; then everyone else replies, one after the other, while
the workers keep going.
"""

import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from cadence.core.domain import EventKind
from cadence.runtime.context import AppContext
from cadence.sequences.events import record_by_hand

from .rig import THREE_STEP_CADENCE, Rig
from .tally import Tally, TouchRow, as_utc

pytestmark = pytest.mark.integration

OTHERS = 1000
STEPS = 3
#: Prospects replying because one of their touches is being sent or waits in the queue.
PICKED_REPLIES = 30


def _reply(ctx: AppContext, email: str) -> datetime:
    """Record a reply in process; returns a moment at or after its commit."""
    record_by_hand(ctx, EventKind.REPLY, email, actor="fault-test")
    return datetime.now(UTC)


def _pick_replies(
    rig: Rig, ctx: AppContext, emails: dict[int, str], replied: dict[int, datetime]
) -> None:
    chooser = random.Random(3)
    wanted_total = len(replied) + PICKED_REPLIES
    deadline = time.monotonic() + 60
    picked: Counter[str] = Counter()
    while len(replied) < wanted_total and time.monotonic() < deadline:
        # Someone with a touch being sent (it may finish: it started before the reply), waiting
        # in the queue or planned (neither may start), whichever kind has had fewer replies
        # so far: batches pass through "queued" and "sending" in milliseconds, so each pick
        # reads only the touches still in flight.
        busy: dict[str, list[int]] = {"sending": [], "queued": [], "scheduled": []}
        for prospect_id, status in rig.rows(
            "SELECT prospect_id, status FROM touch"
            " WHERE status IN ('sending', 'queued', 'scheduled') ORDER BY prospect_id LIMIT 2000"
        ):
            if prospect_id not in replied:
                busy[status].append(prospect_id)
        kinds = sorted((k for k in busy if busy[k]), key=lambda k: picked[k])
        if not kinds:
            time.sleep(0.02)
            continue
        prospect_id = chooser.choice(busy[kinds[0]][:50])
        replied[prospect_id] = _reply(ctx, emails[prospect_id])
        picked[kinds[0]] += 1


def test_no_email_starts_after_a_reply_commits(
    rig: Rig, report_fault: Callable[[Tally], None]
) -> None:
    # The first replier is enrolled first, so its first email is among the first sent and its
    # next one queues up behind the thousand others'.
    [first] = rig.add_prospects(1, THREE_STEP_CADENCE, prefix="replier")
    rig.add_prospects(OTHERS, THREE_STEP_CADENCE)
    ids = {email: prospect_id for prospect_id, email in rig.rows("SELECT id, email FROM prospect")}
    emails = {prospect_id: email for email, prospect_id in ids.items()}
    # A mail server taking 50 ms a message keeps a few seconds of work in flight: without it
    # batched workers deliver the thousand in about a second, before the replies are picked.
    rig.sink.delay = 0.05
    rig.start_scheduler()
    rig.start_worker("worker-1")
    rig.start_worker("worker-2")

    def steps_of(prospect_id: int) -> dict[int, str]:
        return {t.step: t.status for t in rig.touches().values() if t.prospect_id == prospect_id}

    rig.wait_until(
        "the first replier's first email is sent and its second is pending",
        lambda: steps_of(ids[first]).get(1) == "sent" and 2 in steps_of(ids[first]),
    )
    in_flight = sum(n for s, n in rig.counts().items() if s in {"scheduled", "queued", "sending"})
    assert in_flight >= OTHERS // 2, f"only {in_flight} touches in flight at the reply"

    rig.cli("event", "reply", first)
    # The reply's transaction has committed by the time the command returns.
    replied = {ids[first]: datetime.now(UTC)}
    ctx = rig.context("test-events")
    try:
        _pick_replies(rig, ctx, emails, replied)
        assert len(replied) > PICKED_REPLIES // 2, "too few replies landed while in flight"
        picked = len(replied)
        sent_before_the_rest = rig.sink.count()
        rest = [p for p in emails if p not in replied]
        random.Random(7).shuffle(rest)
        for prospect_id in rest:
            replied[prospect_id] = _reply(ctx, emails[prospect_id])
    finally:
        ctx.close()
    sent_during_the_rest = rig.sink.count() - sent_before_the_rest
    assert sent_during_the_rest, "the last round of replies must overlap deliveries"

    rig.drain(age_when_stalled=False, timeout=240)
    rig.shutdown()

    tally = rig.tally("reply while 1000 in flight", allowed=("sent", "unconfirmed", "cancelled"))
    report_fault(tally)
    tally.assert_clean()
    by_prospect: dict[int, list[TouchRow]] = {}
    for touch in tally.touches.values():
        by_prospect.setdefault(touch.prospect_id, []).append(touch)
    arrivals: dict[int, list[tuple[int, float]]] = {}
    for message in rig.sink.received():
        prospect_id = tally.touches[message.touch_id].prospect_id
        arrivals.setdefault(prospect_id, []).append((message.touch_id, message.at))
    late: list[str] = []
    #: Emails that reached the server after their prospect's reply committed: allowed only for
    #: a touch whose delivery started before it (which ``late`` checks).
    arrived_after = 0
    for prospect_id, bound in replied.items():
        mine = by_prospect[prospect_id]
        started = {t.id for t in mine if t.status in {"sent", "unconfirmed"}}
        late += [
            f"{emails[prospect_id]} step {t.step} started {t.started_at}, reply by {bound}"
            for t in mine
            if t.id in started and (t.started_at is None or t.started_at > bound)
        ]
        assert {touch_id for touch_id, _ in arrivals.get(prospect_id, [])} <= started
        arrived_after += sum(1 for _, at in arrivals.get(prospect_id, []) if at > bound.timestamp())
        assert all(t.status == "cancelled" for t in mine if t.id not in started)
    assert late == [], "emails started after the reply committed:\n" + "\n".join(late)
    first_steps = {t.step: t.status for t in by_prospect[ids[first]]}
    assert first_steps[1] == "sent" and len(first_steps) < STEPS, first_steps
    states = rig.rows("SELECT state, count(*) FROM enrollment GROUP BY state")
    assert set(dict(states)) <= {"halted", "completed"}, states
    recorded_at = as_utc(
        rig.scalar(
            "SELECT recorded_at FROM event WHERE prospect_id = :p AND kind = 'reply'",
            p=ids[first],
        )
    )
    print(
        f"  {in_flight} touches in flight at the first reply (recorded_at {recorded_at}); "
        f"{picked - 1} picked replies, then {len(rest)} more during which {sent_during_the_rest} "
        f"emails went out; {arrived_after} emails arrived after their prospect's reply, none "
        "started after it"
    )

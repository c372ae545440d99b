"""Batched delivery (``deliver_touches``) on SQLite and PostgreSQL: every touch of a batch gets
its own outcome, and one touch's trouble (a suppression, a failing template, a broken claim, a
temporary SMTP refusal, a reply) never changes what happens to the others."""

import shutil
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from os import PathLike
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, event, func
from sqlalchemy import text as sql
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from cadence.core.business_calendar import BusinessCalendar
from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind, TaskOutcome
from cadence.core.errors import MailServerUnavailable, TransientDeliveryError
from cadence.core.scheduling import is_open
from cadence.delivery import batch as delivery
from cadence.delivery import halt_watch, send_outcomes
from cadence.delivery.batch import deliver_touches
from cadence.runtime.context import AppContext
from cadence.scheduler import due_touches as claiming
from cadence.scheduler.tick import scheduler_tick
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_by_hand
from cadence.sequences.tasks import complete_tasks
from cadence.store.database import transaction
from cadence.store.models import AuditEntry, Enrollment, Event, MailboxDay, Prospect, Task, Touch
from cadence.store.suppressions import suppress
from cadence.transports import FileOutbox
from tests.integration.batch_setup import (
    AT,
    CALL_THEN_EMAIL,
    RETIRED,
    berlin,
    berlins,
    config_with,
    import_rows,
    queue_due,
)
from tests.integration.conftest import REPO, START
from tests.integration.smtp_sink import smtp_sink
from workers.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration

UNKNOWN_TOUCH = 999_999

CALL_FIRST = """name = "call-first"
description = "One call task"
send_window = { start = "07:30", end = "09:30" }

[[steps]]
template = "tasks/call"
delay = "0d"
send_window = { start = "07:30", end = "17:00" }  # tasks default to 09:00-17:00
"""
LEAVER = """
[[sdr]]
name = "sam"
full_name = "Sam Leaver"
email = "sam@brightwave.example"
daily_cap = 200
"""


class RecordingOutbox(FileOutbox):
    """The real file outbox, remembering what it accepted, in order."""

    def __init__(self, directory: str | PathLike[str]) -> None:
        super().__init__(directory)
        self.accepted: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        super().send(message)
        self.accepted.append(message)

    def recipients(self) -> list[str]:
        return [parseaddr(str(m["To"]))[1] for m in self.accepted]


THREE = ["ann@acme.example", "bo@globex.example", "dee@initech.example"]


def _three_queued(
    ctx: AppContext, tmp_path: Path, clock: SimulatedClock
) -> tuple[list[str], dict[str, int]]:
    """Ann, Bo and Dee in Berlin, on seven-touch, their first touches claimed together."""
    import_rows(ctx, tmp_path, berlins(*THREE))
    enroll_prospects(ctx, THREE, "seven-touch", owner=None, actor="test")
    return list(THREE), queue_due(ctx, clock)


def _touch(ctx: AppContext, touch_id: int) -> Touch:
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
    assert touch is not None
    return touch


def _enrollment_of(ctx: AppContext, touch_id: int) -> Enrollment:
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
        assert touch is not None
        enrollment = session.get(Enrollment, touch.enrollment_id)
    assert enrollment is not None
    return enrollment


def _statuses(ctx: AppContext, ids: dict[str, int]) -> dict[str, str]:
    return {email: _touch(ctx, touch_id).status for email, touch_id in ids.items()}


def _last_audit_id(ctx: AppContext) -> int:
    with transaction(ctx.engine) as session:
        return session.exec(select(func.max(AuditEntry.id))).one() or 0


def _audit_after(ctx: AppContext, after_id: int) -> list[AuditEntry]:
    with transaction(ctx.engine) as session:
        return list(
            session.exec(
                select(AuditEntry).where(col(AuditEntry.id) > after_id).order_by(col(AuditEntry.id))
            )
        )


def _later_steps(ctx: AppContext, touch_id: int) -> list[tuple[int, str]]:
    """(step, status) of every touch of the touch's enrollment, in step order."""
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, touch_id)
        assert touch is not None
        mine = session.exec(
            select(Touch)
            .where(Touch.enrollment_id == touch.enrollment_id)
            .order_by(col(Touch.step))
        ).all()
    return [(t.step, t.status) for t in mine]


# 1. A batch of every kind of touch ------------------------------------------------------------


def test_a_mixed_batch_gives_each_touch_its_own_outcome(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, config_dir=config_with(tmp_path, cadences={"call": CALL_FIRST}))
    outbox = RecordingOutbox(tmp_path / "outbox")
    ctx.transport = outbox
    import_rows(
        ctx,
        tmp_path,
        [
            berlin("ann@acme.example", "Ann", "Acme"),
            berlin("sam@initech.example", "Sam", "Initech"),  # address suppressed
            berlin("dee@blocked.example", "Dee", "Blocked"),  # whole domain suppressed
            berlin("dan@dnc.example", "Dan", "Dnc"),  # do-not-contact
            "kei@tokyo.example,Kei,Sato,Tokyo Co,CEO,ceo,Asia/Tokyo,JP",  # window closed
            berlin("cal@umbrella.example", "Cal", "Umbrella"),  # a call task
            berlin("eve@hooli.example", "Eve", "Hooli"),  # already sent
        ],
    )
    emails = [
        "ann@acme.example",
        "sam@initech.example",
        "dee@blocked.example",
        "dan@dnc.example",
        "kei@tokyo.example",
        "eve@hooli.example",
    ]
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="test")
    enroll_prospects(ctx, ["cal@umbrella.example"], "call-first", owner=None, actor="t")
    ids = queue_due(ctx, clock)
    assert len(ids) == 7

    # Eve's touch went out in an earlier message; this batch is a redelivery for her.
    assert deliver_touches(ctx, [ids["eve@hooli.example"]]) == {ids["eve@hooli.example"]: "sent"}
    eve_before = _touch(ctx, ids["eve@hooli.example"])
    # While the batch waited in the queue: an address and a domain were suppressed, and a
    # prospect was marked do-not-contact.
    with transaction(ctx.engine) as session:
        suppress(
            session,
            "SAM@initech.example",
            reason="asked by phone",
            now=clock.now(),
            actor="sdr",
            prospect_id=None,
        )
        suppress(
            session,
            "blocked.example",
            reason="legal",
            now=clock.now(),
            actor="sdr",
            prospect_id=None,
        )
        dan = session.exec(select(Prospect).where(Prospect.email == "dan@dnc.example")).one()
        dan.do_not_contact = True
        session.add(dan)
    outbox.accepted.clear()
    audit_mark = _last_audit_id(ctx)

    batch = [
        ids["ann@acme.example"],
        ids["sam@initech.example"],
        ids["dee@blocked.example"],
        ids["dan@dnc.example"],
        ids["kei@tokyo.example"],
        ids["cal@umbrella.example"],
        UNKNOWN_TOUCH,
        ids["ann@acme.example"],  # the same touch twice in one message
        ids["eve@hooli.example"],
    ]
    outcomes = deliver_touches(ctx, batch)

    assert outcomes == {
        ids["ann@acme.example"]: "sent",
        ids["sam@initech.example"]: "skipped:not-contactable",
        ids["dee@blocked.example"]: "skipped:not-contactable",
        ids["dan@dnc.example"]: "skipped:not-contactable",
        ids["kei@tokyo.example"]: "skipped:outside-window",
        ids["cal@umbrella.example"]: "task",
        UNKNOWN_TOUCH: "skipped:unknown-touch",
        ids["eve@hooli.example"]: "skipped:sent",
    }
    # Exactly one email left, once, to the one prospect who may get it.
    assert outbox.recipients() == ["ann@acme.example"]
    ann = _touch(ctx, ids["ann@acme.example"])
    assert outbox.accepted[0]["Message-ID"] == ann.message_id
    assert outbox.accepted[0]["X-Cadence-Touch"] == str(ann.id)
    files = sorted(p.name for p in (tmp_path / "outbox").glob("touch-*.eml"))
    assert files == sorted(
        [
            f"touch-{ids['ann@acme.example']:08d}-ann_at_acme.example.eml",
            f"touch-{ids['eve@hooli.example']:08d}-eve_at_hooli.example.eml",
        ]
    )

    assert _statuses(ctx, ids) == {
        "ann@acme.example": "sent",
        "sam@initech.example": "skipped",
        "dee@blocked.example": "skipped",
        "dan@dnc.example": "skipped",
        "kei@tokyo.example": "scheduled",
        "cal@umbrella.example": "sent",
        "eve@hooli.example": "sent",
    }
    assert (ann.sent_at, ann.attempts) == (AT, 1)
    assert _later_steps(ctx, ann.id or 0) == [(1, "sent"), (2, "scheduled")]
    eve = _touch(ctx, ids["eve@hooli.example"])
    assert (eve.sent_at, eve.attempts, eve.message_id) == (
        eve_before.sent_at,
        1,
        eve_before.message_id,
    )
    assert _later_steps(ctx, eve.id or 0) == [(1, "sent"), (2, "scheduled")]  # planned once

    reasons = {
        "sam@initech.example": "sam@initech.example suppressed: asked by phone",
        "dee@blocked.example": "blocked.example suppressed: legal",
        "dan@dnc.example": "marked do-not-contact",
    }
    for email, reason in reasons.items():
        assert _touch(ctx, ids[email]).reason == reason
        blocked = _enrollment_of(ctx, ids[email])
        assert (blocked.state, blocked.reason) == ("halted", reason)
        assert _later_steps(ctx, ids[email]) == [(1, "skipped")]

    # Outside the Tokyo window: back to scheduled, at the next open slot there; not attempted.
    kei = _touch(ctx, ids["kei@tokyo.example"])
    seven = ctx.catalog.cadence("seven-touch")
    assert kei.due_at > AT
    assert kei.attempts == 0 and kei.message_id is None
    assert is_open(
        kei.due_at, seven.window_for(seven.step(1)), ZoneInfo("Asia/Tokyo"), BusinessCalendar("JP")
    )
    assert _enrollment_of(ctx, ids["kei@tokyo.example"]).state == "active"

    # The call is a task for the owner, done at once; its one-step cadence is complete.
    cal = _touch(ctx, ids["cal@umbrella.example"])
    with transaction(ctx.engine) as session:
        tasks = session.exec(select(Task)).all()
    assert [(t.touch_id, t.owner, t.channel, t.status) for t in tasks] == [
        (cal.id, "alex", "call", "open")
    ]
    assert cal.message_id is None and cal.sent_at == AT
    assert _enrollment_of(ctx, ids["cal@umbrella.example"]).state == "completed"

    audit = [
        (a.action, a.touch_id, a.enrollment_id, a.before, a.after, a.reason)
        for a in _audit_after(ctx, audit_mark)
    ]
    enrollment = {email: _enrollment_of(ctx, touch_id).id for email, touch_id in ids.items()}
    expected = [
        ("touch:sent", ann.id, enrollment["ann@acme.example"], "sending", "sent", ann.message_id),
        ("task:created", cal.id, enrollment["cal@umbrella.example"], "queued", "sent"),
        ("completed", None, enrollment["cal@umbrella.example"], "active", "completed"),
    ]
    for email, reason in reasons.items():
        expected += [
            ("touch:skipped", ids[email], enrollment[email], "queued", "skipped", reason),
            ("halted", None, enrollment[email], "active", "halted", reason),
        ]
    assert sorted(entry[:5] for entry in audit) == sorted(entry[:5] for entry in expected)
    full = {entry[:5]: entry[5] for entry in expected if len(entry) == 6}
    for entry in audit:
        if entry[:5] in full:
            assert entry[5] == full[entry[:5]], entry


# 2. A template that fails, a claim that breaks ------------------------------------------------


def test_a_template_that_fails_for_one_prospect_fails_only_that_touch(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    intro = templates / "ceo" / "intro.j2"
    strict = intro.read_text().replace('first_name | default("there")', "first_name")
    assert strict != intro.read_text()
    intro.write_text(strict)
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, templates_dir=templates)
    outbox = RecordingOutbox(tmp_path / "outbox")
    ctx.transport = outbox
    import_rows(
        ctx,
        tmp_path,
        [
            berlin("ann@acme.example", "Ann", "Acme"),
            berlin("nameless@initech.example", "", "Initech"),
            berlin("bo@globex.example", "Bo", "Globex"),
        ],
    )
    enroll_prospects(
        ctx,
        ["ann@acme.example", "nameless@initech.example", "bo@globex.example"],
        "seven-touch",
        owner=None,
        actor="test",
    )
    ids = queue_due(ctx, clock)
    audit_mark = _last_audit_id(ctx)

    outcomes = deliver_touches(ctx, list(ids.values()))

    assert outcomes == {
        ids["ann@acme.example"]: "sent",
        ids["nameless@initech.example"]: "failed:render",
        ids["bo@globex.example"]: "sent",
    }
    assert sorted(outbox.recipients()) == ["ann@acme.example", "bo@globex.example"]
    assert all("Hi ," not in m.get_body(("plain",)).get_content() for m in outbox.accepted)  # type: ignore[union-attr]
    assert _statuses(ctx, ids) == {
        "ann@acme.example": "sent",
        "nameless@initech.example": "failed",
        "bo@globex.example": "sent",
    }
    failed = _touch(ctx, ids["nameless@initech.example"])
    assert failed.reason is not None
    assert failed.reason.startswith("render failed:")
    assert "first_name" in failed.reason
    assert failed.message_id is None
    assert _enrollment_of(ctx, ids["nameless@initech.example"]).state == "paused"
    actions = sorted((a.action, a.touch_id) for a in _audit_after(ctx, audit_mark))
    assert actions == sorted(
        [
            ("touch:sent", ids["ann@acme.example"]),
            ("touch:sent", ids["bo@globex.example"]),
            ("touch:failed", ids["nameless@initech.example"]),
            ("paused", None),
        ]
    )


def _leaver_config(tmp_path: Path) -> tuple[Path, Path]:
    admin = config_with(tmp_path, "admin-config")
    team = admin / "team.toml"
    team.write_text(team.read_text() + LEAVER, encoding="utf-8")
    return admin, config_with(tmp_path, "worker-config")


def _retired_config(tmp_path: Path) -> tuple[Path, Path]:
    return (
        config_with(tmp_path, "admin-config", cadences={"retired": RETIRED}),
        config_with(tmp_path, "worker-config"),
    )


@pytest.mark.parametrize(
    ("make_configs", "owner", "cadence", "error"),
    [
        # The worker was restarted after marketing deleted the cadence file.
        (_retired_config, "alex", "retired", "NotFoundError: no cadence named 'retired'"),
        # The worker was restarted after the SDR who owns the enrollment left the team.
        (_leaver_config, "sam", "seven-touch", "DefinitionError: unknown owner 'sam'"),
    ],
    ids=["cadence-deleted", "owner-left"],
)
def test_a_touch_whose_claim_breaks_fails_alone_and_the_rest_are_sent(
    make_context: Callable[..., AppContext],
    tmp_path: Path,
    make_configs: Callable[[Path], tuple[Path, Path]],
    owner: str,
    cadence: str,
    error: str,
) -> None:
    admin_config, worker_config = make_configs(tmp_path)
    clock = SimulatedClock(START)
    admin = make_context(clock=clock, config_dir=admin_config)
    import_rows(
        admin,
        tmp_path,
        [berlin("ann@acme.example", "Ann", "Acme"), berlin("bo@globex.example", "Bo", "Globex")],
    )
    import_rows(admin, tmp_path, [berlin("old@initech.example", "Old", "Initech")], owner=owner)
    enroll_prospects(
        admin, ["ann@acme.example", "bo@globex.example"], "seven-touch", owner=None, actor="t"
    )
    enroll_prospects(admin, ["old@initech.example"], cadence, owner=None, actor="t")
    ids = queue_due(admin, clock)

    worker = make_context(clock=clock, config_dir=worker_config)
    outbox = RecordingOutbox(tmp_path / "outbox")
    worker.transport = outbox
    audit_mark = _last_audit_id(worker)
    broken = ids["old@initech.example"]
    batch = [ids["ann@acme.example"], broken, ids["bo@globex.example"]]

    assert deliver_touches(worker, batch) == {
        ids["ann@acme.example"]: "sent",
        broken: "failed:error",
        ids["bo@globex.example"]: "sent",
    }
    assert outbox.recipients() == ["ann@acme.example", "bo@globex.example"]
    assert _statuses(worker, ids) == {
        "ann@acme.example": "sent",
        "old@initech.example": "failed",
        "bo@globex.example": "sent",
    }
    failed = _touch(worker, broken)
    assert failed.reason is not None
    assert failed.reason.startswith("could not be prepared: ")
    assert error in failed.reason
    assert failed.message_id is None
    assert _enrollment_of(worker, broken).state == "paused"
    for email in ("ann@acme.example", "bo@globex.example"):
        assert _later_steps(worker, ids[email]) == [(1, "sent"), (2, "scheduled")]
    actions = sorted((a.action, a.touch_id) for a in _audit_after(worker, audit_mark))
    assert actions == sorted(
        [
            ("touch:sent", ids["ann@acme.example"]),
            ("touch:sent", ids["bo@globex.example"]),
            ("touch:failed", broken),
            ("paused", None),
        ]
    )
    # A redelivered message changes nothing.
    assert deliver_touches(worker, batch) == {
        ids["ann@acme.example"]: "skipped:sent",
        broken: "skipped:failed",
        ids["bo@globex.example"]: "skipped:sent",
    }
    assert len(outbox.accepted) == 2


# 3. A temporary refusal in the middle of a batch ---------------------------------------------


def test_a_temporary_refusal_mid_batch_requeues_only_that_touch(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    with smtp_sink() as (sink, url):
        clock = SimulatedClock(START)
        ctx = make_context(clock=clock, smtp_url=url)
        import_rows(
            ctx,
            tmp_path,
            berlins("ann@acme.example", "bo@globex.example", "dee@initech.example"),
        )
        emails = ["ann@acme.example", "bo@globex.example", "dee@initech.example"]
        enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="test")
        ids = queue_due(ctx, clock)
        batch = [ids[email] for email in emails]  # Bo in the middle
        sink.refuse["bo@globex.example"] = "450 4.2.1 mailbox busy, try again later"

        with pytest.raises(TransientDeliveryError, match="450"):
            deliver_touches(ctx, batch)

        assert [r.rcpt_tos for r in sink.received] == [
            ["ann@acme.example"],
            ["dee@initech.example"],
        ]
        assert _statuses(ctx, ids) == {
            "ann@acme.example": "sent",
            "bo@globex.example": "queued",
            "dee@initech.example": "sent",
        }
        bo = _touch(ctx, ids["bo@globex.example"])
        assert bo.reason is not None and bo.reason.startswith("retrying: SMTP 450")
        assert bo.attempts == 1
        assert _enrollment_of(ctx, bo.id or 0).state == "active"
        assert _later_steps(ctx, bo.id or 0) == [(1, "queued")]

        # The broker retries the whole message: only Bo's touch is sent this time.
        sink.refuse.clear()
        assert deliver_touches(ctx, batch) == {
            ids["ann@acme.example"]: "skipped:sent",
            ids["bo@globex.example"]: "sent",
            ids["dee@initech.example"]: "skipped:sent",
        }
    assert [r.rcpt_tos for r in sink.received] == [
        ["ann@acme.example"],
        ["dee@initech.example"],
        ["bo@globex.example"],
    ]
    assert set(_statuses(ctx, ids).values()) == {"sent"}
    bo = _touch(ctx, ids["bo@globex.example"])
    assert bo.attempts == 2
    assert sink.received[2].message["Message-ID"] == bo.message_id
    for email in emails:
        assert _later_steps(ctx, ids[email]) == [(1, "sent"), (2, "scheduled")]


# 4. A reply (and a pause) committed before the batch runs -------------------------------------


def test_a_reply_recorded_before_the_batch_runs_stops_only_that_touch(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    outbox = RecordingOutbox(tmp_path / "outbox")
    ctx.transport = outbox
    emails = ["ann@acme.example", "bo@globex.example", "pat@hooli.example", "dee@initech.example"]
    import_rows(
        ctx,
        tmp_path,
        berlins(
            "ann@acme.example", "bo@globex.example", "pat@hooli.example", "dee@initech.example"
        ),
    )
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="test")
    ids = queue_due(ctx, clock)

    replied = record_by_hand(ctx, EventKind.REPLY, "bo@globex.example", actor="test")
    assert replied.halted == [_enrollment_of(ctx, ids["bo@globex.example"]).id]
    record_by_hand(ctx, EventKind.PAUSE, "pat@hooli.example", reason="on leave")

    outcomes = deliver_touches(ctx, [ids[email] for email in emails])

    assert outcomes == {
        ids["ann@acme.example"]: "sent",
        ids["bo@globex.example"]: "skipped:cancelled",
        ids["pat@hooli.example"]: "skipped:enrollment-paused",
        ids["dee@initech.example"]: "sent",
    }
    assert outbox.recipients() == ["ann@acme.example", "dee@initech.example"]
    assert _statuses(ctx, ids) == {
        "ann@acme.example": "sent",
        "bo@globex.example": "cancelled",
        "pat@hooli.example": "scheduled",  # waits for the resume
        "dee@initech.example": "sent",
    }
    bo = _touch(ctx, ids["bo@globex.example"])
    assert bo.started_at is None and bo.message_id is None and bo.attempts == 0
    assert _enrollment_of(ctx, bo.id or 0).state == "halted"
    assert _later_steps(ctx, bo.id or 0) == [(1, "cancelled")]
    with transaction(ctx.engine) as session:
        reply = session.exec(select(Event).where(Event.kind == "reply")).one()
    assert reply.recorded_at <= AT
    pat = _touch(ctx, ids["pat@hooli.example"])
    assert pat.attempts == 0 and pat.message_id is None
    assert _enrollment_of(ctx, pat.id or 0).state == "paused"


# Send limits inside one batch ----------------------------------------------------------------


def test_the_per_minute_throttle_is_shared_by_the_touches_of_a_batch(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    config = config_with(tmp_path, cadences={"call": CALL_FIRST})
    team = config / "team.toml"
    team.write_text(
        team.read_text().replace("daily_cap = 200", "daily_cap = 200\nper_minute = 2", 1)
    )
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, config_dir=config)
    assert ctx.catalog.team.sender("alex").per_minute == 2
    outbox = RecordingOutbox(tmp_path / "outbox")
    ctx.transport = outbox
    emails = ["ann@acme.example", "bo@globex.example", "dee@initech.example"]
    import_rows(
        ctx,
        tmp_path,
        berlins(
            "ann@acme.example", "cal@umbrella.example", "bo@globex.example", "dee@initech.example"
        ),
    )
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="test")
    enroll_prospects(ctx, ["cal@umbrella.example"], "call-first", owner=None, actor="t")
    ids = queue_due(ctx, clock)
    batch = [
        ids["ann@acme.example"],
        ids["cal@umbrella.example"],  # a task takes nothing from the mailbox
        ids["bo@globex.example"],
        ids["dee@initech.example"],
    ]

    assert deliver_touches(ctx, batch) == {
        ids["ann@acme.example"]: "sent",
        ids["cal@umbrella.example"]: "task",
        ids["bo@globex.example"]: "sent",
        ids["dee@initech.example"]: "skipped:send-limit",
    }
    assert outbox.recipients() == ["ann@acme.example", "bo@globex.example"]
    dee = _touch(ctx, ids["dee@initech.example"])
    assert dee.status == "scheduled"
    assert dee.reason == "moved: 2 emails a minute for alex@brightwave.example reached"
    assert dee.due_at >= AT + timedelta(minutes=1)
    with transaction(ctx.engine) as session:
        counter = session.get(MailboxDay, ("alex", AT.date()))
    assert counter is not None
    assert (counter.started, counter.window_started_at, counter.window_sent) == (2, AT, 2)

    # When the minute is over, the moved touch goes out.
    clock.advance_to(dee.due_at)
    claimed: list[int] = []
    scheduler_tick(ctx, claimed.extend)
    assert claimed == [dee.id]
    assert deliver_touches(ctx, claimed) == {ids["dee@initech.example"]: "sent"}
    assert outbox.recipients() == ["ann@acme.example", "bo@globex.example", "dee@initech.example"]


# The worker's message format ----------------------------------------------------------------


def test_the_worker_delivers_batched_and_old_single_id_messages(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    outbox = RecordingOutbox(tmp_path / "outbox")
    ctx.transport = outbox
    emails, ids = _three_queued(ctx, tmp_path, clock)
    with EmbeddedEngine(ctx, worker_threads=2) as engine:
        engine.actors.deliver.send(ids["ann@acme.example"])  # enqueued by a one-touch version
        engine.actors.enqueue_touches([ids["bo@globex.example"], ids["dee@initech.example"]] * 2)
        engine.drain()
    assert sorted(outbox.recipients()) == sorted(emails)
    assert set(_statuses(ctx, ids).values()) == {"sent"}


# An unexpected transport error in the middle of a batch ----------------------------------------


def test_an_unexpected_transport_error_mid_batch_keeps_what_is_known(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    outbox = RecordingOutbox(tmp_path / "outbox")
    ctx.transport = outbox
    emails, ids = _three_queued(ctx, tmp_path, clock)
    # Something in the outbox folder is in the way of Bo's file (as a full disk or a
    # permission problem would be): the real FileOutbox raises OSError for that one email.
    blocker = tmp_path / "outbox" / f"touch-{ids['bo@globex.example']:08d}-bo_at_globex.example.eml"
    blocker.mkdir(parents=True)

    with pytest.raises(IsADirectoryError):  # raised again: the broker logs and retries it
        deliver_touches(ctx, [ids[email] for email in emails])

    statuses = _statuses(ctx, ids)
    assert outbox.recipients()[0] == "ann@acme.example"
    # Ann's email was accepted by the transport: the worker knows it went out.
    assert statuses["ann@acme.example"] == "sent"
    # The transport broke in a way it does not classify: Bo's fate is left to a person.
    assert statuses["bo@globex.example"] == "unconfirmed"
    # Dee's was either sent after Bo's failure or never handed over: never left "sending".
    assert statuses["dee@initech.example"] == (
        "sent" if "dee@initech.example" in outbox.recipients() else "queued"
    )


# Between the claim and the sends ---------------------------------------------------------------


class _ReplyDuringBatch(RecordingOutbox):
    """After its first email, a reply from ``replier`` is recorded (as the inbound process
    would, in its own transaction) and a moment passes, as it does while a batch sends;
    with ``kind``, that event instead (a pause by the owner, say)."""

    def __init__(
        self, directory: Path, ctx: AppContext, replier: str, kind: EventKind = EventKind.REPLY
    ) -> None:
        super().__init__(directory)
        self.ctx, self.replier, self.kind = ctx, replier, kind

    def send(self, message: EmailMessage) -> None:
        super().send(message)
        if len(self.accepted) == 1:
            record_by_hand(self.ctx, self.kind, self.replier, actor="test")
            time.sleep(halt_watch.HALT_CHECK_SECONDS + 0.05)


@pytest.mark.parametrize(
    ("kind", "dee_after", "state"),
    [
        (EventKind.REPLY, "cancelled", "halted"),
        # Not cancelled: the touch waits, unsent, for the enrollment's resume.
        (EventKind.PAUSE, "scheduled", "paused"),
    ],
)
def test_an_event_recorded_while_the_batch_sends_stops_its_later_email(
    make_context: Callable[..., AppContext],
    tmp_path: Path,
    kind: EventKind,
    dee_after: str,
    state: str,
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    emails, ids = _three_queued(ctx, tmp_path, clock)
    outbox = _ReplyDuringBatch(tmp_path / "outbox", ctx, "dee@initech.example", kind)
    ctx.transport = outbox

    outcomes = deliver_touches(ctx, [ids[email] for email in emails])

    assert outbox.recipients() == ["ann@acme.example", "bo@globex.example"]
    assert outcomes[ids["dee@initech.example"]] == f"skipped:enrollment-{state}"
    assert _statuses(ctx, ids) == {
        "ann@acme.example": "sent",
        "bo@globex.example": "sent",
        "dee@initech.example": dee_after,
    }
    assert _touch(ctx, ids["dee@initech.example"]).sent_at is None
    assert _enrollment_of(ctx, ids["dee@initech.example"]).state == state


ANN, BO, DEE, EVE = [*THREE, "eve@hooli.example"]


class _TwoThreads:
    """Two threads of one process, one batch each: Bo's slow send holds Dee's email in the
    other thread while Ann's send records replies from Bo and Dee and lets a look fall due,
    which the thread sending Ann's batch makes before Eve's email."""

    def __init__(self, ctx: AppContext, tmp_path: Path, clock: SimulatedClock) -> None:
        import_rows(ctx, tmp_path, berlins(ANN, BO, DEE, EVE))
        enroll_prospects(ctx, [ANN, BO, DEE, EVE], "seven-touch", owner=None, actor="t")
        self.ctx, self.ids = ctx, queue_due(ctx, clock)
        self.bo_sending, self.bo_may_finish = threading.Event(), threading.Event()
        #: Dee's touch as Eve's email left.
        self.dee_when_eve_went: list[str] = []
        self.outbox = RecordingOutbox(tmp_path / "outbox")
        self.outbox.send = self.send_email  # type: ignore[method-assign]
        ctx.transport = self.outbox
        self.held: dict[int, str] = {}

    def send_email(self, message: EmailMessage) -> None:
        to = parseaddr(str(message["To"]))[1]
        if to == BO:
            self.bo_sending.set()
            assert self.bo_may_finish.wait(10)
        elif to == ANN:
            assert self.bo_sending.wait(10)
            for replier in (BO, DEE):
                record_by_hand(self.ctx, EventKind.REPLY, replier, actor="test")
            time.sleep(halt_watch.HALT_CHECK_SECONDS + 0.05)
        elif to == EVE:
            self.dee_when_eve_went.append(_touch(self.ctx, self.ids[DEE]).status)
            self.bo_may_finish.set()
        RecordingOutbox.send(self.outbox, message)

    def run(self) -> dict[int, str]:
        """Ann's batch here, Bo's in the other thread; this thread's outcomes."""
        ids = self.ids
        holder = threading.Thread(
            target=lambda: self.held.update(deliver_touches(self.ctx, [ids[BO], ids[DEE]]))
        )
        holder.start()
        try:
            return deliver_touches(self.ctx, [ids[ANN], ids[EVE]])
        finally:
            self.bo_may_finish.set()
            holder.join(20)


def test_a_look_by_one_thread_stops_the_email_another_thread_holds(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """A process's threads share one look at the emails they hold: the look made by the
    thread sending Ann's batch takes back Dee's email before its own thread gets to it;
    Bo's, already handed over, is left alone."""
    clock = SimulatedClock(START)
    two = _TwoThreads(make_context(clock=clock), tmp_path, clock)
    ids = two.ids

    mine = two.run()

    assert two.dee_when_eve_went == ["cancelled"]
    assert mine == {ids[ANN]: "sent", ids[EVE]: "sent"}
    assert two.held == {ids[BO]: "sent", ids[DEE]: "skipped:enrollment-halted"}
    assert sorted(two.outbox.recipients()) == [ANN, BO, EVE]
    assert _statuses(two.ctx, {BO: ids[BO], DEE: ids[DEE]}) == {BO: "sent", DEE: "cancelled"}


def test_a_thread_asking_about_an_email_a_look_is_taking_back_waits_for_the_outcome(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bo's send ends while the look is taking Dee's email back: her thread asks about it
    then, and must neither send it nor guess, but wait for the look's outcome."""
    clock = SimulatedClock(START)
    two = _TwoThreads(make_context(clock=clock), tmp_path, clock)
    ids = two.ids
    take_back = halt_watch.stop_halted

    def slowly(ctx: AppContext, session: Session, touch_ids: list[int]) -> dict[int, str]:
        two.bo_may_finish.set()  # Dee's thread reaches her email meanwhile
        time.sleep(0.3)
        return take_back(ctx, session, touch_ids)

    monkeypatch.setattr(halt_watch, "stop_halted", slowly)
    mine = two.run()

    assert mine == {ids[ANN]: "sent", ids[EVE]: "sent"}
    assert two.held == {ids[BO]: "sent", ids[DEE]: "skipped:enrollment-halted"}
    assert sorted(two.outbox.recipients()) == [ANN, BO, EVE]
    assert _statuses(two.ctx, {DEE: ids[DEE]}) == {DEE: "cancelled"}


def test_a_look_that_fails_taking_back_another_thread_s_email_keeps_it_from_going(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look finds Dee's email and then fails (as dramatiq's time limit or a lost commit
    reply would make it fail): her thread must not send it on, but put it back to the
    queue, where the claim will see her reply."""
    clock = SimulatedClock(START)
    two = _TwoThreads(make_context(clock=clock), tmp_path, clock)
    ids = two.ids

    def fails(*_args: object) -> dict[int, str]:
        raise RuntimeError("interrupted while taking back")

    monkeypatch.setattr(halt_watch, "stop_halted", fails)
    with pytest.raises(RuntimeError, match="interrupted"):
        two.run()

    assert two.held == {ids[BO]: "sent", ids[DEE]: "retrying"}
    assert sorted(two.outbox.recipients()) == [ANN, BO]
    assert _statuses(two.ctx, {DEE: ids[DEE], EVE: ids[EVE]}) == {DEE: "queued", EVE: "queued"}


class _DownAfterFirst(_ReplyDuringBatch):
    """Records Dee's reply during Ann's send, then the mail server is gone for Bo's."""

    def send(self, message: EmailMessage) -> None:
        if self.accepted:
            raise MailServerUnavailable("connection refused")
        super().send(message)


def test_emails_sent_are_recorded_even_when_putting_the_rest_back_fails(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    emails, ids = _three_queued(ctx, tmp_path, clock)

    class DownAfterFirst(RecordingOutbox):
        def send(self, message: EmailMessage) -> None:
            if self.accepted:
                raise MailServerUnavailable("connection refused")
            super().send(message)

    ctx.transport = DownAfterFirst(tmp_path / "outbox")

    def breaks(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("requeue failed")

    monkeypatch.setattr(delivery, "requeue", breaks)
    monkeypatch.setattr(send_outcomes, "requeue", breaks)
    with pytest.raises(RuntimeError, match="requeue failed"):
        deliver_touches(ctx, [ids[email] for email in emails])

    # Ann's email left: it is recorded, not left "sending" to be reviewed as unconfirmed.
    assert _statuses(ctx, ids)["ann@acme.example"] == "sent"


def test_an_email_a_look_stopped_stays_stopped_when_the_batch_ends_before_it(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    emails, ids = _three_queued(ctx, tmp_path, clock)
    ctx.transport = _DownAfterFirst(tmp_path / "outbox", ctx, "dee@initech.example")

    with pytest.raises(MailServerUnavailable):
        deliver_touches(ctx, [ids[email] for email in emails])

    # The look before Bo's send stopped Dee's email; the batch ended at Bo's.
    assert _statuses(ctx, ids) == {
        "ann@acme.example": "sent",
        "bo@globex.example": "queued",
        "dee@initech.example": "cancelled",
    }


def test_a_mail_server_that_cannot_be_reached_sends_the_batch_back_untried(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    with smtp_sink() as (_sink, url):
        pass  # a port that had a server a moment ago and has none now
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, smtp_url=f"{url}?timeout=2")
    emails, ids = _three_queued(ctx, tmp_path, clock)

    with pytest.raises(MailServerUnavailable):
        deliver_touches(ctx, [ids[email] for email in emails])

    assert set(_statuses(ctx, ids).values()) == {"queued"}
    tried = [_touch(ctx, ids[email]).reason or "" for email in emails]
    assert "cannot reach" in tried[0]
    assert all("the worker stopped before it" in reason for reason in tried[1:])


class _StopsMidway(RecordingOutbox):
    """Accepts one email, then is interrupted as dramatiq's time limit interrupts an actor."""

    def send(self, message: EmailMessage) -> None:
        if self.accepted:
            raise _Interrupted
        super().send(message)


class _Interrupted(BaseException):
    pass


def test_an_interrupted_batch_records_what_left_and_requeues_what_did_not(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    ctx.transport = _StopsMidway(tmp_path / "outbox")
    emails, ids = _three_queued(ctx, tmp_path, clock)

    with pytest.raises(_Interrupted):
        deliver_touches(ctx, [ids[email] for email in emails])

    assert _statuses(ctx, ids) == {
        "ann@acme.example": "sent",  # accepted before the interruption: recorded
        "bo@globex.example": "sending",  # interrupted while handed over: the reaper flags it
        "dee@initech.example": "queued",  # never handed over: the retry sends it
    }


class _EditsBoWhileSending(RecordingOutbox):
    """While the batch's emails go out, Bo's row is changed under the worker (here into a
    time zone that does not exist), so his next step cannot be planned when the sends are
    recorded."""

    def __init__(self, directory: Path, ctx: AppContext) -> None:
        super().__init__(directory)
        self.ctx = ctx

    def send(self, message: EmailMessage) -> None:
        super().send(message)
        with self.ctx.engine.begin() as conn:
            conn.execute(
                sql("UPDATE prospect SET timezone = 'Mars/Olympus' WHERE email = :email"),
                {"email": "bo@globex.example"},
            )


def test_a_send_whose_next_step_cannot_be_planned_is_recorded_and_its_enrollment_paused(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    emails, ids = _three_queued(ctx, tmp_path, clock)
    ctx.transport = _EditsBoWhileSending(tmp_path / "outbox", ctx)

    outcomes = deliver_touches(ctx, [ids[email] for email in emails])

    assert set(outcomes.values()) == {"sent"}
    assert set(_statuses(ctx, ids).values()) == {"sent"}  # none left "sending"
    for email in ("ann@acme.example", "dee@initech.example"):
        assert _later_steps(ctx, ids[email]) == [(1, "sent"), (2, "scheduled")]
    bo = _enrollment_of(ctx, ids["bo@globex.example"])
    assert bo.state == "paused"
    assert "next step could not be planned" in (bo.reason or "")
    assert _later_steps(ctx, ids["bo@globex.example"]) == [(1, "sent")]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_connection_pool_timeout_in_the_claim_leaves_the_batch_queued(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """Every pooled connection in use is the store failing, not the touches: the message is
    retried with them queued, never failed for good. With a pool of one, the claim holds it
    and the day's first mailbox row needs a second connection of its own."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _, queued = _three_queued(ctx, tmp_path, clock)
    roomy = ctx.engine
    ctx.engine = create_engine(roomy.url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        with pytest.raises(PoolTimeout):
            deliver_touches(ctx, list(queued.values()))
    finally:
        ctx.engine.dispose()
        ctx.engine = roomy
    assert set(_statuses(ctx, queued).values()) == {"queued"}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_touch_the_stale_sweep_is_failing_is_not_sent_by_a_worker_meanwhile(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """The sweep fails a touch lost too often while holding only its row lock; a worker
    claiming the same touch at that moment must wait for the sweep's verdict and then leave
    it alone, not overwrite "failed" with "sending" and send an email audited as failed."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    outbox = RecordingOutbox(tmp_path / "outbox")
    ctx.transport = outbox
    _, queued = _three_queued(ctx, tmp_path, clock)
    lost = queued["bo@globex.example"]
    with transaction(ctx.engine) as session:
        touch = session.get(Touch, lost)
        assert touch is not None and touch.queued_at is not None
        touch.enqueues = claiming.MAX_ENQUEUES
        session.add(touch)
    clock.advance_to(clock.now() + claiming.REQUEUE_AFTER * 2)

    worker_done = threading.Event()
    outcomes: dict[int, str] = {}

    def worker() -> None:
        outcomes.update(deliver_touches(ctx, [lost]))
        worker_done.set()

    with transaction(ctx.engine) as sweep:
        resent = claiming.stale_queued(sweep, now=clock.now(), limit=10)
        assert lost not in resent  # failed instead
        thread = threading.Thread(target=worker)
        thread.start()
        # The worker is now waiting for the sweep's row lock (or finished, wrongly).
        sent_meanwhile = worker_done.wait(1.0)
    thread.join(30)

    assert not sent_meanwhile
    assert outcomes == {lost: "skipped:failed"}
    assert outbox.accepted == []
    assert _touch(ctx, lost).status == "failed"


def test_a_batch_costs_the_same_statements_whatever_its_size(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No N+1: claiming, sending and recording a batch runs a fixed set of statements, for
    first emails and for bumps that quote the email before them alike, so nine touches cost
    what three do (the mid-batch halt check, which runs on a timer, is kept out)."""
    monkeypatch.setattr(halt_watch, "HALT_CHECK_SECONDS", 3600.0)
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    emails = [f"p{n}@co{n}.example" for n in range(15)]
    import_rows(ctx, tmp_path, berlins(*emails))
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="test")
    for at in (AT, AT + timedelta(days=3)):  # the first emails, then the bumps quoting them
        due = queue_due(ctx, clock, at)
        queued = [due[email] for email in emails]
        _statements_for(ctx, queued[:3])  # the day's first batch also creates the mailbox's row
        assert _statements_for(ctx, queued[3:6]) == _statements_for(ctx, queued[6:15])
    bumps = [t for t in _all_touches(ctx) if t.step == 2]
    assert len(bumps) == 15 and all(t.in_reply_to for t in bumps)


def _statements_for(ctx: AppContext, ids: list[int]) -> int:
    """How many statements delivering the batch ran; every touch of it must be sent."""
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        outcomes = deliver_touches(ctx, ids)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    assert set(outcomes.values()) == {"sent"}
    return len(statements)


def _all_touches(ctx: AppContext) -> list[Touch]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(Touch)))


ONE_SHOT = """name = "one-shot"
description = "One email, then the nurture drip"
send_window = { start = "07:30", end = "09:30" }
on_complete = "nurture"

[[steps]]
template = "ceo/intro"
delay = "0d"
"""
ONE_CALL = """name = "one-call"
description = "One call task, then the nurture drip"
send_window = { start = "07:30", end = "09:30" }
on_complete = "nurture"

[[steps]]
template = "tasks/call"
delay = "0d"
send_window = { start = "07:30", end = "17:00" }
"""


def test_last_steps_of_a_batch_complete_and_hand_over_together(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """A batch of last steps completes its enrollments set-based and hands each over to
    nurture, except a prospect already live there and one suppressed while her email left;
    a task's last step (completed in the claim) hands over the same way."""
    clock = SimulatedClock(START)
    config = config_with(tmp_path, cadences={"one-shot": ONE_SHOT, "one-call": ONE_CALL})
    ctx = make_context(clock=clock, config_dir=config)
    emailed = ["ann@acme.example", "bo@globex.example", "dee@initech.example", "eli@hooli.example"]
    import_rows(ctx, tmp_path, berlins(*emailed, "cal@umbrella.example"))
    enroll_prospects(ctx, emailed, "one-shot", owner=None, actor="test")
    enroll_prospects(ctx, ["cal@umbrella.example"], "one-call", owner=None, actor="t")
    ids = queue_due(ctx, clock)
    enroll_prospects(ctx, ["bo@globex.example"], "nurture", owner=None, actor="test")

    class UnsubscribedMidSend(RecordingOutbox):
        """Dee unsubscribes by another path while her email leaves."""

        def send(self, message: EmailMessage) -> None:
            super().send(message)
            if parseaddr(str(message["To"]))[1] == "dee@initech.example":
                with transaction(ctx.engine) as session:
                    suppress(
                        session,
                        "dee@initech.example",
                        reason="unsubscribed",
                        now=clock.now(),
                        actor="test",
                        prospect_id=None,
                    )

    ctx.transport = UnsubscribedMidSend(tmp_path / "outbox")
    mark = _last_audit_id(ctx)
    outcomes = deliver_touches(ctx, list(ids.values()))
    assert sorted(outcomes.values()) == ["sent", "sent", "sent", "sent", "task"]

    with transaction(ctx.engine) as session:
        rows = session.exec(
            select(Prospect.email, Enrollment.cadence, Enrollment.state).join(
                Enrollment, col(Enrollment.prospect_id) == col(Prospect.id)
            )
        ).all()
        first_touches = session.exec(
            select(Prospect.email, Touch.step, Touch.status)
            .join(Enrollment, col(Enrollment.id) == col(Touch.enrollment_id))
            .join(Prospect, col(Prospect.id) == col(Touch.prospect_id))
            .where(Enrollment.cadence == "nurture")
        ).all()
    states = sorted(rows)
    assert states == [
        ("ann@acme.example", "nurture", "active"),
        ("ann@acme.example", "one-shot", "completed"),
        ("bo@globex.example", "nurture", "active"),
        ("bo@globex.example", "one-shot", "completed"),
        ("cal@umbrella.example", "nurture", "active"),
        ("cal@umbrella.example", "one-call", "completed"),
        ("dee@initech.example", "one-shot", "completed"),
        ("eli@hooli.example", "nurture", "active"),
        ("eli@hooli.example", "one-shot", "completed"),
    ]
    assert sorted(first_touches) == [
        (email, 1, "scheduled")
        for email in ("ann@acme.example", "bo@globex.example", "cal@umbrella.example",
                      "eli@hooli.example")
    ]  # fmt: skip
    audit = _audit_after(ctx, mark)
    completed = [e for e in audit if e.action == "completed"]
    assert len(completed) == 5
    assert {(e.before, e.after, e.reason) for e in completed} == {
        ("active", "completed", "all steps done, no reply")
    }
    handed = [e for e in audit if e.action == "enrolled"]
    assert sorted(e.reason or "" for e in handed) == [
        "handed over from one-call with no reply",
        "handed over from one-shot with no reply",
        "handed over from one-shot with no reply",
    ]
    assert {e.actor for e in handed} == {"system"}
    # The timeline reads in order: Cal's task, then his enrollment completed, then nurture.
    cal = [e.action for e in audit if e.prospect_id == _handed_over_from(audit, "one-call")]
    assert cal == ["task:created", "completed", "enrolled"]


def _handed_over_from(audit: list[AuditEntry], cadence: str) -> int | None:
    """The prospect handed over from ``cadence``, by the reason of its enrollment entry."""
    return next(
        e.prospect_id
        for e in audit
        if e.action == "enrolled" and e.reason == f"handed over from {cadence} with no reply"
    )


def test_completing_and_handing_over_costs_the_same_statements_for_3_or_9(
    make_context: Callable[..., AppContext], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No N+1 at a cadence's end: a batch of last steps completes its enrollments and
    starts their nurture enrollments with a fixed set of statements."""
    monkeypatch.setattr(halt_watch, "HALT_CHECK_SECONDS", 3600.0)
    clock = SimulatedClock(START)
    ctx = make_context(
        clock=clock, config_dir=config_with(tmp_path, cadences={"one-shot": ONE_SHOT})
    )
    emails = [f"p{n}@co{n}.example" for n in range(15)]
    import_rows(ctx, tmp_path, berlins(*emails))
    enroll_prospects(ctx, emails, "one-shot", owner=None, actor="test")
    due = queue_due(ctx, clock)
    queued = [due[email] for email in emails]
    _statements_for(ctx, queued[:3])  # the day's first batch also creates the mailbox's row
    assert _statements_for(ctx, queued[3:6]) == _statements_for(ctx, queued[6:15])
    with transaction(ctx.engine) as session:
        nurtured = session.exec(
            select(func.count()).select_from(Enrollment).where(Enrollment.cadence == "nurture")
        ).one()
    assert nurtured == 15


def test_a_reply_cancels_the_open_task_and_the_next_touch(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """Nobody should call a prospect who replied: the reply cancels the enrollment's open
    task (not a colleague's) and its scheduled touch, with the reason."""
    clock = SimulatedClock(START)
    ctx = make_context(
        clock=clock, config_dir=config_with(tmp_path, cadences={"c": CALL_THEN_EMAIL})
    )
    import_rows(ctx, tmp_path, berlins("ann@acme.example", "bo@globex.example"))
    enroll_prospects(
        ctx, ["ann@acme.example", "bo@globex.example"], "call-then-email", owner=None, actor="t"
    )
    ids = queue_due(ctx, clock)
    assert set(deliver_touches(ctx, list(ids.values())).values()) == {"task"}
    record_by_hand(ctx, EventKind.REPLY, "ann@acme.example", actor="test")
    with transaction(ctx.engine) as session:
        tasks = {
            email: (task.status, task.outcome)
            for email, task in session.exec(
                select(Prospect.email, Task).join(Task, col(Task.prospect_id) == col(Prospect.id))
            )
        }
        second = {
            email: (touch.status, touch.reason)
            for email, touch in session.exec(
                select(Prospect.email, Touch)
                .join(Touch, col(Touch.prospect_id) == col(Prospect.id))
                .where(Touch.step == 2)
            )
        }
    assert tasks["bo@globex.example"] == ("open", None)
    assert second["bo@globex.example"] == ("scheduled", None)
    ann_task, ann_touch = tasks["ann@acme.example"], second["ann@acme.example"]
    assert ann_task[0] == "cancelled" and ann_task[1] is not None
    assert ann_task[1].startswith("halted: reply")
    assert ann_touch[0] == "cancelled" and (ann_touch[1] or "").startswith("halted: reply")

    # An SDR who made the call anyway can still log it; the audit says what it was before.
    with transaction(ctx.engine) as session:
        ann_task_id = session.exec(
            select(Task.id)
            .join(Prospect, col(Task.prospect_id) == col(Prospect.id))
            .where(Prospect.email == "ann@acme.example")
        ).one()
        assert ann_task_id is not None
        complete_tasks(session, {ann_task_id: TaskOutcome.CONNECTED}, now=clock.now(), actor="alex")
    with transaction(ctx.engine) as session:
        done = session.exec(select(AuditEntry).where(AuditEntry.action == "task:done")).one()
    assert (done.before, done.after, done.actor) == ("cancelled", "connected", "alex")

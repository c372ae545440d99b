"""The embedded engine end to end on SQLite and PostgreSQL: a real dramatiq Worker on the
in-process broker, the file outbox, and the same services the CLI calls."""

import email
import email.policy
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from cadence.core.business_calendar import BusinessCalendar
from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind, TouchStatus
from cadence.core.errors import InputError
from cadence.core.scheduling import is_open
from cadence.runtime.context import AppContext
from cadence.scheduler.tick import scheduler_tick
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_by_hand
from cadence.sequences.prospect_import import import_prospects
from cadence.store.database import transaction
from cadence.store.models import AuditEntry, Enrollment, Event, Prospect, Task, Touch
from tests.integration.conftest import REPO, START
from workers.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration

PROSPECTS_CSV = """email,first_name,last_name,company,title,persona,timezone,country
ann@acme.example,Ann,Lee,Acme,CEO,ceo,America/New_York,US
bo@globex.example,Bo,Berg,Globex,VP Sales,vp_sales,Europe/Berlin,DE
cy@initech.example,,Tan,Initech,Head of RevOps,revops,Asia/Tokyo,JP
"""
EMAILS = ["ann@acme.example", "bo@globex.example", "cy@initech.example"]


def _setup(ctx: AppContext, tmp_path: Path) -> None:
    csv_file = tmp_path / "prospects.csv"
    csv_file.write_text(PROSPECTS_CSV, encoding="utf-8")
    report = import_prospects(ctx, csv_file, owner="alex", actor="test")
    assert (len(report.imported), report.rejected) == (3, [])
    enroll_prospects(ctx, EMAILS, "seven-touch", owner=None, actor="test")


def _simulate(ctx: AppContext, clock: SimulatedClock, days: int) -> int:
    with EmbeddedEngine(ctx, worker_threads=4) as engine:
        return engine.simulate(clock, clock.now() + timedelta(days=days))


def _touches(ctx: AppContext) -> list[Touch]:
    with transaction(ctx.engine) as session:
        return list(session.exec(select(Touch).order_by(col(Touch.id))))


def _outbox(tmp_path: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((tmp_path / "outbox").glob("*.eml"))
    ]


def test_seven_touch_runs_to_nurture_inside_windows(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    _simulate(ctx, clock, days=45)

    touches = _touches(ctx)
    with transaction(ctx.engine) as session:
        enrollments = {e.id: e for e in session.exec(select(Enrollment))}
        tasks = session.exec(select(Task)).all()
    seven = [t for t in touches if enrollments[t.enrollment_id].cadence == "seven-touch"]
    assert sorted((t.prospect_id, t.step) for t in seven if t.status == "sent") == sorted(
        (pid, step) for pid in (1, 2, 3) for step in range(1, 8)
    )
    assert {e.cadence: e.state for e in enrollments.values() if e.cadence == "seven-touch"} == {
        "seven-touch": "completed"
    }
    assert sum(1 for e in enrollments.values() if e.cadence == "nurture") == 3
    assert len(tasks) == 6  # a call and a LinkedIn task per prospect
    zones = {1: ("America/New_York", "US"), 2: ("Europe/Berlin", "DE"), 3: ("Asia/Tokyo", "JP")}
    for touch in touches:
        if touch.status != TouchStatus.SENT:
            continue
        cadence = ctx.catalog.cadence(enrollments[touch.enrollment_id].cadence)
        zone, country = zones[touch.prospect_id]
        assert touch.started_at is not None
        assert is_open(
            touch.started_at,
            cadence.window_for(cadence.step(touch.step)),
            ZoneInfo(zone),
            BusinessCalendar(country),
        ), (touch.id, touch.started_at)

    messages = _outbox(tmp_path)
    sent_emails = [t for t in touches if t.channel == "email" and t.status == "sent"]
    assert len(messages) == len(sent_emails)
    by_id = {m["Message-ID"]: m for m in messages}
    assert len(by_id) == len(messages), "Message-IDs must be unique"
    for touch in sent_emails:
        message = by_id[touch.message_id]
        assert message["X-Cadence-Touch"] == str(touch.id)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "<https://cadence.test/unsubscribe/" in message["List-Unsubscribe"]
        if touch.step == 2 and enrollments[touch.enrollment_id].cadence == "seven-touch":
            first = next(
                t for t in sent_emails if t.enrollment_id == touch.enrollment_id and t.step == 1
            )
            assert message["In-Reply-To"] == first.message_id
            assert message["References"] == first.message_id
            assert message["Subject"] == f"Re: {first.subject}"
            text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            assert "following up on the below" in text
            assert "> Worth 15 minutes next week" in text
    # "Hi ," is impossible: the prospect without a first name got the fallback.
    cy = [m for m in messages if m["To"].addresses[0].addr_spec == "cy@initech.example"]
    assert cy
    assert all("Hi there," in m.get_body(("plain",)).get_content() for m in cy)  # type: ignore[union-attr]


def test_reply_halts_and_nothing_starts_after_it(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    _simulate(ctx, clock, days=2)  # step 1 went out to everyone
    assert sum(1 for t in _touches(ctx) if t.status == "sent") == 3

    outcome = record_by_hand(ctx, EventKind.REPLY, "ANN@acme.example", actor="test")
    assert len(outcome.halted) == 1
    with transaction(ctx.engine) as session:
        reply = session.exec(select(Event).where(Event.kind == "reply")).one()
    _simulate(ctx, clock, days=40)

    touches = _touches(ctx)
    ann = [t for t in touches if t.prospect_id == 1]
    assert [t.status for t in ann] == ["sent", "cancelled"]
    assert all(t.started_at is None or t.started_at <= reply.recorded_at for t in ann)
    with transaction(ctx.engine) as session:
        states = {
            e.prospect_id: e.state
            for e in session.exec(select(Enrollment).where(Enrollment.cadence == "seven-touch"))
        }
        audit = session.exec(select(AuditEntry).where(AuditEntry.prospect_id == 1)).all()
    assert states == {1: "halted", 2: "completed", 3: "completed"}
    assert {"enrolled", "touch:sent", "event:reply", "halted"} <= {a.action for a in audit}
    # The others carried on to the end.
    assert sum(1 for t in touches if t.prospect_id == 2 and t.status == "sent") >= 7


def test_duplicate_messages_and_repeated_ticks_deliver_once(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    with EmbeddedEngine(ctx, worker_threads=4) as engine:
        for due in sorted(t.due_at for t in _touches(ctx)):
            clock.advance_to(due)
            claimed: list[int] = []
            assert scheduler_tick(ctx, claimed.extend) == 1
            assert scheduler_tick(ctx, claimed.extend) == 0  # a second scheduler
            engine.actors.enqueue_touches(claimed * 3)  # each message delivered three times
            engine.drain()
    assert len(_outbox(tmp_path)) == 3
    assert [t.attempts for t in _touches(ctx) if t.step == 1] == [1, 1, 1]


def test_render_failure_fails_touch_and_sends_nothing(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    import shutil

    from tests.integration.conftest import REPO

    shutil.copytree(REPO / "templates", templates)
    intro = templates / "ceo" / "intro.j2"
    intro.write_text(intro.read_text().replace('first_name | default("there")', "first_name"))
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock, templates_dir=templates)
    _setup(ctx, tmp_path)
    _simulate(ctx, clock, days=3)
    touches = _touches(ctx)
    failed = [t for t in touches if t.status == "failed"]
    assert [t.prospect_id for t in failed] == [3]  # cy has no first name
    assert failed[0].reason is not None
    assert "ceo/intro.j2:6" in failed[0].reason and "first_name" in failed[0].reason
    recipients = [m["To"].addresses[0].addr_spec for m in _outbox(tmp_path)]
    assert "cy@initech.example" not in recipients
    assert sorted(recipients) == ["ann@acme.example", "bo@globex.example"]
    with transaction(ctx.engine) as session:
        enrollment = session.exec(select(Enrollment).where(Enrollment.prospect_id == 3)).one()
    assert enrollment.state == "paused"


def test_unsubscribe_suppresses_and_enrolling_again_is_refused(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    ctx = make_context()
    _setup(ctx, tmp_path)
    before = _touches(ctx)
    again = enroll_prospects(ctx, ["bo@globex.example"], "seven-touch", owner=None, actor="test")
    assert (again.enrolled, again.already_active) == ((), ("bo@globex.example",))
    assert len(_touches(ctx)) == len(before)  # reported, never duplicated
    outcome = record_by_hand(ctx, EventKind.UNSUBSCRIBE, "ann@acme.example")
    assert outcome.suppressed
    before = _touches(ctx)
    with pytest.raises(InputError, match=r"ann@acme\.example: cannot be contacted"):
        enroll_prospects(
            ctx, ["ann@acme.example", "nobody@x.example"], "nurture", owner=None, actor="test"
        )
    assert len(_touches(ctx)) == len(before)  # all or nothing
    with pytest.raises(InputError, match="unknown prospect"):
        enroll_prospects(ctx, ["nobody@x.example"], "nurture", owner=None, actor="t")


def test_a_prospect_who_replied_is_not_enrolled_again_unless_asked(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    ctx = make_context()
    _setup(ctx, tmp_path)
    record_by_hand(ctx, EventKind.REPLY, "cy@initech.example")
    with pytest.raises(InputError, match="a conversation now, not a sequence"):
        enroll_prospects(ctx, ["cy@initech.example"], "nurture", owner=None, actor="t")
    done = enroll_prospects(
        ctx, ["cy@initech.example"], "nurture", owner=None, actor="t", allow_replied=True
    )
    assert done.enrolled == ("cy@initech.example",)


def test_pause_and_resume_move_the_next_touch(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    _setup(ctx, tmp_path)
    record_by_hand(ctx, EventKind.PAUSE, "bo@globex.example", reason="on leave")
    _simulate(ctx, clock, days=10)
    bo = [t for t in _touches(ctx) if t.prospect_id == 2]
    assert [t.status for t in bo] == ["scheduled"]
    record_by_hand(ctx, EventKind.RESUME, "bo@globex.example")
    bo = [t for t in _touches(ctx) if t.prospect_id == 2]
    assert bo[0].due_at >= clock.now()
    _simulate(ctx, clock, days=3)
    assert next(t.status for t in _touches(ctx) if t.prospect_id == 2) == "sent"


ACCOUNT_CSV = """email,first_name,last_name,company,title,persona,timezone,country
ann@acme.example,Ann,Lee,Acme,CEO,ceo,America/New_York,US
dee@acme.example,Dee,Park,Acme,VP Sales,vp_sales,America/New_York,US
bo@globex.example,Bo,Berg,Globex,VP Sales,vp_sales,Europe/Berlin,DE
"""


@pytest.mark.parametrize(
    ("on_reply", "dee_after"), [("halt_account", "paused"), ("halt", "active")]
)
def test_reply_pauses_colleagues_only_under_halt_account(
    make_context: Callable[..., AppContext], tmp_path: Path, on_reply: str, dee_after: str
) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    cadence_file = config / "cadences" / "seven-touch.toml"
    text = cadence_file.read_text(encoding="utf-8")
    cadence_file.write_text(text.replace('on_reply = "halt"', f'on_reply = "{on_reply}"'))
    ctx = make_context(config_dir=config)
    csv_file = tmp_path / "prospects.csv"
    csv_file.write_text(ACCOUNT_CSV, encoding="utf-8")
    import_prospects(ctx, csv_file, owner="alex", actor="test")
    emails = ["ann@acme.example", "dee@acme.example", "bo@globex.example"]
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="test")

    outcome = record_by_hand(ctx, EventKind.REPLY, "ann@acme.example", actor="test")

    with transaction(ctx.engine) as session:
        states = {
            p: e.state
            for e, p in session.exec(
                select(Enrollment, Prospect.email).join(
                    Prospect, col(Prospect.id) == col(Enrollment.prospect_id)
                )
            )
        }
    assert states == {
        "ann@acme.example": "halted",
        "dee@acme.example": dee_after,
        "bo@globex.example": "active",
    }
    assert len(outcome.paused) == (1 if dee_after == "paused" else 0)

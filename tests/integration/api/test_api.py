"""The ``/api/v1`` JSON API on SQLite and PostgreSQL: every resource read, enrollments
controlled and tasks closed through it, the audit trail exported, the report served."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from cadence.api.app import create_app
from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.reports.audit_export import entry_batches
from cadence.reports.touch_history import touch_batches, touch_rows
from cadence.runtime.context import AppContext
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_by_hand
from cadence.sequences.prospect_import import import_prospects
from cadence.store.api_users import Role, add_user
from cadence.store.database import transaction
from cadence.store.models import AuditEntry, Task
from tests.integration.conftest import START
from workers.embedded import EmbeddedEngine

pytestmark = pytest.mark.integration

ALEX_CSV = """email,first_name,last_name,company,title,persona,timezone,country
ann@acme.example,Ann,Lee,Acme,CEO,ceo,America/New_York,US
bo@globex.example,Bo,Berg,Globex,VP Sales,vp_sales,Europe/Berlin,DE
"""
# Priya's prospects include hostile data: names and companies are untrusted input.
PRIYA_CSV = """email,first_name,last_name,company,title,persona,timezone,country
cy@initech.example,Cy,Tan,Initech,Head of RevOps,revops,Asia/Tokyo,JP
eve@evil.example,<script>alert(1)</script>,Evil,=HYPERLINK(1),CEO,ceo,Europe/London,GB
"""


@dataclass(frozen=True)
class Store:
    ctx: AppContext
    client: TestClient
    tokens: dict[str, str]

    def as_(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def _store(make_context: Callable[..., AppContext], tmp_path: Path, days: int = 8) -> Store:
    """Four prospects of two SDRs in seven-touch, ``days`` simulated, Ann replied."""
    clock = SimulatedClock(START)
    ctx = make_context(clock=clock)
    for owner, text in (("alex", ALEX_CSV), ("priya", PRIYA_CSV)):
        path = tmp_path / f"{owner}.csv"
        path.write_text(text, encoding="utf-8")
        report = import_prospects(ctx, path, owner=owner, actor="test")
        assert report.rejected == []
    emails = ["ann@acme.example", "bo@globex.example", "cy@initech.example", "eve@evil.example"]
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="test")
    with EmbeddedEngine(ctx, worker_threads=2) as engine:
        engine.simulate(clock, clock.now() + timedelta(days=days))
    record_by_hand(ctx, EventKind.REPLY, "ann@acme.example", actor="test", source="test")
    tokens = {}
    with transaction(ctx.engine) as session:
        for name, role in (
            ("root", Role.ADMIN),
            ("morgan", Role.MANAGER),
            ("mia", Role.MARKETING),
            ("alex", Role.SDR),
            ("priya", Role.SDR),
        ):
            tokens[name] = add_user(session, name, role, now=clock.now(), actor="test")
    return Store(ctx, TestClient(create_app(ctx)), tokens)


def _prospect_id(store: Store, email: str) -> int:
    rows = store.client.get(
        "/api/v1/prospects", params={"email": email}, headers=store.as_("morgan")
    ).json()
    assert len(rows) == 1
    prospect_id: int = rows[0]["id"]
    return prospect_id


def test_manager_reads_prospects_touches_events_and_tasks(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path)
    c, h = store.client, store.as_("morgan")

    everyone = c.get("/api/v1/prospects", headers=h).json()
    assert len(everyone) == 4
    assert {p["email"] for p in c.get("/api/v1/prospects?owner=priya", headers=h).json()} == {
        "cy@initech.example",
        "eve@evil.example",
    }
    assert [p["email"] for p in c.get("/api/v1/prospects?q=GLOBEX", headers=h).json()] == [
        "bo@globex.example"
    ]
    ann = _prospect_id(store, "ann@acme.example")
    detail = c.get(f"/api/v1/prospects/{ann}", headers=h).json()
    assert [(e["cadence"], e["state"]) for e in detail["enrollments"]] == [
        ("seven-touch", "halted")
    ]

    touches = c.get(f"/api/v1/touches?prospect_id={ann}", headers=h).json()
    sent = [t for t in touches if t["status"] == "sent" and t["channel"] == "email"]
    assert sent, touches
    one = c.get(f"/api/v1/touches/{sent[0]['id']}", headers=h).json()
    assert one["subject"] == "Acme and Brightwave"
    assert one["body"].startswith("Hi Ann")
    assert one["message_id"]
    assert c.get("/api/v1/touches?status=cancelled", headers=h).json()  # halted by the reply

    events = c.get(f"/api/v1/events?prospect_id={ann}&kind=reply", headers=h).json()
    assert [(e["kind"], e["actor"]) for e in events] == [("reply", "test")]

    tasks = c.get("/api/v1/tasks", headers=h).json()
    assert tasks and {t["channel"] for t in tasks} <= {"call", "linkedin"}
    now = store.ctx.clock.now()
    assert all(t["overdue"] == (datetime.fromisoformat(t["due_at"]) < now) for t in tasks)
    late = c.get("/api/v1/tasks?overdue=true", headers=h).json()
    assert [t["id"] for t in late] == [t["id"] for t in tasks if t["overdue"]]
    assert c.get("/api/v1/me", headers=h).json() == {"name": "morgan", "role": "manager"}


def test_sdr_controls_an_enrollment_through_its_states(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path)
    c, alex = store.client, store.as_("alex")
    bo = _prospect_id(store, "bo@globex.example")
    (enrollment,) = c.get(f"/api/v1/enrollments?prospect_id={bo}", headers=alex).json()
    url = f"/api/v1/enrollments/{enrollment['id']}"

    paused = c.post(f"{url}/pause", json={"reason": "on holiday"}, headers=alex)
    assert (paused.status_code, paused.json()["state"]) == (200, "paused")
    again = c.post(f"{url}/pause", headers=alex)
    assert again.status_code == 409
    assert "paused" in again.json()["detail"]
    assert c.post(f"{url}/resume", headers=alex).json()["state"] == "active"
    halted = c.post(f"{url}/halt", json={"reason": "wrong person"}, headers=alex)
    assert (halted.json()["state"], halted.json()["reason"]) == ("halted", "wrong person")
    assert c.post(f"{url}/halt", headers=alex).status_code == 409

    enrolled = c.post(
        "/api/v1/enrollments",
        json={"cadence": "nurture", "emails": ["bo@globex.example"]},
        headers=alex,
    )
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json() == {
        "cadence": "nurture",
        "enrolled": ["bo@globex.example"],
        "already_active": [],
    }
    twice = c.post(
        "/api/v1/enrollments",
        json={"cadence": "nurture", "emails": ["bo@globex.example"]},
        headers=alex,
    )
    assert twice.json()["already_active"] == ["bo@globex.example"]  # reported, not doubled
    states = [
        e["state"] for e in c.get(f"/api/v1/enrollments?prospect_id={bo}", headers=alex).json()
    ]
    assert states == ["halted", "active"]
    replied = c.post(
        "/api/v1/enrollments",
        json={"cadence": "nurture", "emails": ["ann@acme.example"]},
        headers=alex,
    )
    assert replied.status_code == 422  # a reply makes a conversation, not a sequence
    assert "ann@acme.example" in replied.json()["detail"]
    unknown = c.post(
        "/api/v1/enrollments",
        json={"cadence": "no-such", "emails": ["bo@globex.example"]},
        headers=alex,
    )
    assert unknown.status_code == 404
    assert "no cadence named 'no-such'" in unknown.json()["detail"]
    bad_owner = c.post(
        "/api/v1/enrollments",
        json={"cadence": "nurture", "emails": ["cy@initech.example"], "owner": "nobody"},
        headers=store.as_("root"),
    )
    assert bad_owner.status_code == 422

    with transaction(store.ctx.engine) as session:
        mine = session.exec(
            select(AuditEntry).where(AuditEntry.actor == "api:alex").order_by(col(AuditEntry.id))
        ).all()
    actions = [a.action for a in mine]
    assert actions[:2] == ["event:pause", "paused"] or "event:pause" in actions
    assert {"event:resume", "event:halt", "enrolled"} <= set(actions)
    assert any(a.reason == "on holiday" for a in mine)


def test_sdr_closes_their_task_once(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path)
    c = store.client
    with transaction(store.ctx.engine) as session:
        task = session.exec(select(Task).where(Task.owner == "alex")).first()
    assert task is not None, "eight simulated days should issue step 3's call task"
    url = f"/api/v1/tasks/{task.id}/complete"
    assert c.post(url, json={"outcome": "connected"}, headers=store.as_("priya")).status_code == 404
    assert (
        c.post(url, json={"outcome": "connected"}, headers=store.as_("morgan")).status_code == 403
    )
    assert c.post(url, json={"outcome": "bogus"}, headers=store.as_("alex")).status_code == 422
    done = c.post(url, json={"outcome": "voicemail"}, headers=store.as_("alex"))
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["outcome"]) == ("done", "voicemail")
    assert c.post(url, json={"outcome": "connected"}, headers=store.as_("alex")).status_code == 409
    mine = c.get("/api/v1/tasks?include_done=true", headers=store.as_("alex")).json()
    assert {t["owner"] for t in mine} == {"alex"}
    assert task.id in {t["id"] for t in mine}
    assert task.id not in {
        t["id"] for t in c.get("/api/v1/tasks", headers=store.as_("alex")).json()
    }


def test_audit_filters_and_streams_csv_in_batches(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path)
    c, h = store.client, store.as_("morgan")
    cli_rows = list(touch_rows(store.ctx.engine))
    api_rows = c.get("/api/v1/audit?limit=1000", headers=h).json()
    assert api_rows == cli_rows  # the same rows as `cadence audit --format json`

    batches = list(touch_batches(store.ctx.engine, batch=3))
    assert len(batches) > 2 and all(len(b) <= 3 for b in batches)
    assert [r for b in batches for r in b] == cli_rows

    ann = c.get("/api/v1/audit?prospect=ANN@acme.example", headers=h).json()
    assert ann and {r["prospect"] for r in ann} == {"ann@acme.example"}
    assert {r["owner"] for r in c.get("/api/v1/audit?owner=priya", headers=h).json()} == {"priya"}
    middle = cli_rows[len(cli_rows) // 2]["due_at"]
    early = c.get("/api/v1/audit", params={"until": middle, "limit": 1000}, headers=h).json()
    late = c.get("/api/v1/audit", params={"since": middle, "limit": 1000}, headers=h).json()
    assert early + late == cli_rows
    assert c.get("/api/v1/audit?since=2026-12-01&until=2026-11-01", headers=h).status_code == 422

    response = c.get("/api/v1/audit?format=csv", headers=h)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(cli_rows)
    # A spreadsheet must not run the prospect's company as a formula.
    subjects = [r["subject"] for r in rows if r["prospect"] == "eve@evil.example"]
    assert "'=HYPERLINK(1) and Brightwave" in subjects
    assert not any(cell.startswith("=") for row in rows for cell in row.values())

    entries = c.get("/api/v1/audit/entries?prospect=ann@acme.example", headers=h).json()
    assert {"enrolled", "touch:sent", "event:reply", "halted"} <= {e["action"] for e in entries}
    assert all(e["prospect"] == "ann@acme.example" for e in entries)
    streamed = c.get("/api/v1/audit/entries?format=csv&cadence=seven-touch", headers=h)
    written = list(csv.DictReader(io.StringIO(streamed.text)))
    assert written and {r["cadence"] for r in written} == {"seven-touch"}
    assert [r for b in entry_batches(store.ctx.engine, batch=2) for r in b][:3] == c.get(
        "/api/v1/audit/entries?limit=3", headers=h
    ).json()


def test_report_templates_and_cadences(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path)
    c = store.client
    report = c.get("/api/v1/reports", headers=store.as_("morgan")).json()
    seven = next(r for r in report["cadences"] if r["cadence"] == "seven-touch")
    assert (seven["enrolled"], seven["replies"]) == (4, 1)
    later = c.get("/api/v1/reports?since=2027-01-01T00:00:00Z", headers=store.as_("mia")).json()
    assert later["cadences"] == []
    assert later["since"].startswith("2027-01-01")

    names = {t["name"] for t in c.get("/api/v1/templates", headers=store.as_("mia")).json()}
    assert {"ceo/intro", "ceo/bump", "tasks/call"} <= names
    cadences = c.get("/api/v1/cadences", headers=store.as_("mia")).json()
    seven_def = next(x for x in cadences if x["name"] == "seven-touch")
    assert len(seven_def["steps"]) == 7
    findings = c.get("/api/v1/templates/lint", headers=store.as_("mia"))
    assert findings.status_code == 200
    assert all(f["severity"] in ("error", "warning") for f in findings.json())

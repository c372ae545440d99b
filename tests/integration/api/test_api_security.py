"""Who may see and do what: tokens, roles, SDR isolation, the append-only audit trail, and
the pages' session and escaping."""

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import func, select

from cadence.api.app import create_app
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import AuditEntry, Enrollment, Prospect, Task, Touch, User
from cadence.web.security import SESSION_COOKIE

from .test_api import Store, _prospect_id, _store

ORIGIN = "https://testserver"

pytestmark = pytest.mark.integration


def _operations(store: Store) -> dict[str, set[str]]:
    """The schema's paths and their methods."""
    schema = store.client.get("/openapi.json").json()
    return {path: set(item) for path, item in schema["paths"].items()}


def _api_gets(store: Store) -> list[str]:
    """Every GET under /api/v1 except the signed webhooks, with each id set to 1."""
    return [
        re.sub(r"\{[^}]+\}", "1", path)
        for path, methods in _operations(store).items()
        if "get" in methods
        and path.startswith("/api/v1/")
        and not path.startswith("/api/v1/inbound")
    ]


def test_no_token_or_a_bad_one_gets_401_everywhere(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path)
    c = store.client
    paths = _api_gets(store)
    assert len(paths) >= 15
    valid = store.tokens["root"]
    for headers in (
        {},
        {"Authorization": "Bearer cad_not-a-real-token"},
        {"Authorization": f"Bearer {valid}x"},
        {"Authorization": f"Basic {valid}"},
        {"Authorization": valid},
        {"Authorization": "Bearer " + "cad_" + "a" * 5000},
    ):
        for path in paths:
            response = c.get(path, headers=headers)
            assert response.status_code == 401, (path, headers.keys(), response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    for method, path in (("POST", "/api/v1/enrollments"), ("POST", "/api/v1/tasks/1/complete")):
        assert c.request(method, path, json={}).status_code == 401
    assert c.get("/api/v1/me", headers=store.as_("root")).status_code == 200

    with transaction(store.ctx.engine) as session:
        user = session.exec(select(User).where(User.name == "root")).one()
        user.disabled = True
        session.add(user)
    assert c.get("/api/v1/me", headers=store.as_("root")).status_code == 401


def test_tokens_are_stored_only_as_hashes(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path)
    with store.ctx.engine.connect() as connection:
        rows = connection.execute(text('SELECT * FROM "user"')).mappings().all()
    assert len(rows) == len(store.tokens)
    stored = " ".join(str(value) for row in rows for value in row.values())
    for name, token in store.tokens.items():
        assert token not in stored
        assert token[4:20] not in stored  # not even a fragment
        row = next(r for r in rows if r["name"] == name)
        assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_an_sdr_sees_only_their_own_prospects(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path)
    c, alex = store.client, store.as_("alex")
    cy = _prospect_id(store, "cy@initech.example")  # priya's
    with transaction(store.ctx.engine) as session:
        theirs = session.exec(select(Enrollment).where(Enrollment.prospect_id == cy)).one()
        touch = session.exec(select(Touch).where(Touch.prospect_id == cy)).first()
        task = session.exec(select(Task).where(Task.owner == "priya")).first()
        missing = (session.exec(select(func.max(Prospect.id))).one() or 0) + 100
    assert touch is not None and task is not None

    hidden = c.get(f"/api/v1/prospects/{cy}", headers=alex)
    absent = c.get(f"/api/v1/prospects/{missing}", headers=alex)
    assert (hidden.status_code, absent.status_code) == (404, 404)
    assert hidden.json()["detail"] == f"no prospect {cy}"  # the same words as a missing one
    for path in (
        f"/api/v1/touches/{touch.id}",
        f"/api/v1/enrollments/{theirs.id}",
    ):
        assert c.get(path, headers=alex).status_code == 404, path
    for action in ("pause", "halt"):
        url = f"/api/v1/enrollments/{theirs.id}/{action}"
        assert c.post(url, headers=alex).status_code == 404
    done = c.post(f"/api/v1/tasks/{task.id}/complete", json={"outcome": "connected"}, headers=alex)
    assert done.status_code == 404
    theirs_by_email = c.post(
        "/api/v1/enrollments",
        json={"cadence": "nurture", "emails": ["cy@initech.example"]},
        headers=alex,
    )
    assert theirs_by_email.status_code == 404

    # Lists are narrowed, whatever filter the SDR asks for.
    for path in (
        "/api/v1/prospects",
        "/api/v1/prospects?owner=priya",
        f"/api/v1/touches?prospect_id={cy}",
        f"/api/v1/events?prospect_id={cy}",
        "/api/v1/enrollments?owner=priya",
        "/api/v1/tasks?owner=priya",
    ):
        rows = c.get(path, headers=alex).json()
        owners = {r.get("owner") for r in rows if "owner" in r}
        assert owners <= {"alex"}, path
        assert all(r.get("prospect_id") != cy for r in rows), path
    emails = {p["email"] for p in c.get("/api/v1/prospects", headers=alex).json()}
    assert emails == {"ann@acme.example", "bo@globex.example"}
    priya = store.as_("priya")
    assert c.get(f"/api/v1/prospects/{cy}", headers=priya).status_code == 200


@pytest.mark.parametrize(
    ("user", "allowed", "forbidden"),
    [
        (
            "mia",
            ["/api/v1/templates", "/api/v1/cadences", "/api/v1/reports"],
            ["/api/v1/prospects", "/api/v1/touches", "/api/v1/audit", "/api/v1/tasks"],
        ),
        (
            "alex",
            ["/api/v1/prospects", "/api/v1/touches", "/api/v1/events", "/api/v1/tasks"],
            ["/api/v1/audit", "/api/v1/audit/entries", "/api/v1/reports", "/api/v1/templates"],
        ),
        (
            "morgan",
            ["/api/v1/prospects", "/api/v1/audit", "/api/v1/reports", "/api/v1/cadences"],
            [],
        ),
        ("root", ["/api/v1/prospects", "/api/v1/audit/entries", "/api/v1/templates"], []),
    ],
)
def test_role_boundaries(
    make_context: Callable[..., AppContext],
    tmp_path: Path,
    user: str,
    allowed: list[str],
    forbidden: list[str],
) -> None:
    store = _store(make_context, tmp_path, days=1)
    c, h = store.client, store.as_(user)
    for path in allowed:
        assert c.get(path, headers=h).status_code == 200, path
    for path in forbidden:
        assert c.get(path, headers=h).status_code == 403, path
    pause = c.post("/api/v1/enrollments/1/pause", headers=h).status_code
    enroll = c.post(
        "/api/v1/enrollments",
        json={"cadence": "nurture", "emails": ["bo@globex.example"]},
        headers=h,
    ).status_code
    if user in ("mia", "morgan"):  # marketing and managers change nothing about prospects
        assert (pause, enroll) == (403, 403)
    else:
        assert pause in (200, 409) and enroll == 201


def test_the_audit_trail_cannot_be_edited_or_deleted(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path, days=1)
    c, h = store.client, store.as_("root")  # not even by an admin
    with transaction(store.ctx.engine) as session:
        before = session.exec(select(func.count()).select_from(AuditEntry)).one()
    for path in (
        "/api/v1/audit",
        "/api/v1/audit/entries",
        "/api/v1/audit/1",
        "/api/v1/audit/entries/1",
    ):
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            status = c.request(method, path, json={"reason": "tidy up"}, headers=h).status_code
            assert status in (404, 405), (method, path, status)
    for path, methods in _operations(store).items():
        if "audit" in path:
            assert methods == {"get"}, path
    with transaction(store.ctx.engine) as session:
        assert session.exec(select(func.count()).select_from(AuditEntry)).one() == before


def test_pages_need_a_manager_session_and_escape_prospect_data(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    store = _store(make_context, tmp_path, days=3)
    # The cookie is Secure and form POSTs must name our origin, as a browser's do.
    c = TestClient(create_app(store.ctx), base_url="https://testserver", headers={"Origin": ORIGIN})
    eve = _prospect_id(store, "eve@evil.example")
    pages = [
        "/ui/",
        "/ui/prospects",
        f"/ui/prospects/{eve}",
        "/ui/cadences/seven-touch",
        "/ui/activity",
        "/ui/tasks",
        "/ui/report",
    ]
    for page in pages:
        response = c.get(page, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/ui/signin")
    c.cookies.set(SESSION_COOKIE, "cad_forged", path="/ui")
    assert c.get("/ui/", follow_redirects=False).status_code == 303
    c.cookies.clear()

    wrong = c.post("/ui/signin", data={"token": "cad_wrong"}, follow_redirects=False)
    assert wrong.status_code == 401
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    sdr = c.post("/ui/signin", data={"token": store.tokens["alex"]}, follow_redirects=False)
    assert sdr.status_code == 303
    assert c.get("/ui/", follow_redirects=False).status_code == 404  # pages are for managers
    c.cookies.clear()

    signed = c.post("/ui/signin", data={"token": store.tokens["morgan"]}, follow_redirects=False)
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "Secure" in cookie
    for page in pages:
        response = c.get(page)
        assert response.status_code == 200, page
        assert "<script>alert(1)</script>" not in response.text, page
        assert "script-src" not in response.headers["content-security-policy"]  # none allowed
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
    timeline = c.get(f"/ui/prospects/{eve}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in timeline
    assert c.get("/ui/prospects/999999").status_code == 404
    assert c.get("/ui/cadences/%3Cb%3E").text.count("<b>") == 0
    assert c.post("/ui/signout", follow_redirects=False).status_code == 303


def test_another_sdrs_record_answers_exactly_as_a_missing_one_on_every_id_route(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    """Every route with an id in its path, every method, from the schema: priya's record and
    a record that does not exist give alex the same status and the same body, with only the
    id he sent in it."""
    store = _store(make_context, tmp_path)
    c, alex = store.client, store.as_("alex")
    cy = _prospect_id(store, "cy@initech.example")  # priya's
    with transaction(store.ctx.engine) as session:
        theirs = {
            "prospect_id": cy,
            "enrollment_id": session.exec(
                select(Enrollment.id).where(Enrollment.prospect_id == cy)
            ).one(),
            "touch_id": session.exec(select(Touch.id).where(Touch.prospect_id == cy)).first(),
            "task_id": session.exec(select(Task.id).where(Task.owner == "priya")).first(),
        }
        missing = {
            name: (session.exec(select(func.max(model.id))).one() or 0) + 1000
            for name, model in (
                ("prospect_id", Prospect),
                ("enrollment_id", Enrollment),
                ("touch_id", Touch),
                ("task_id", Task),
            )
        }
    bodies: dict[str, Any] = {"/api/v1/tasks/{task_id}/complete": {"outcome": "connected"}}
    tried = 0
    for path, methods in _operations(store).items():
        names = re.findall(r"\{([^}]+)\}", path)
        if not names or not path.startswith("/api/v1/") or path.startswith("/api/v1/inbound"):
            continue
        for method in methods:
            answers = []
            for ids in (theirs, missing):
                url = path
                for name in names:
                    url = url.replace("{" + name + "}", str(ids[name]))
                response = c.request(method.upper(), url, json=bodies.get(path), headers=alex)
                answers.append((response.status_code, response.text, ids))
            (status_a, text_a, _), (status_b, text_b, _) = answers
            assert status_a == status_b == 404, (method, path, answers)
            for name in names:  # the same words, but for the id alex sent
                text_a = text_a.replace(str(theirs[name]), "ID")
                text_b = text_b.replace(str(missing[name]), "ID")
            assert text_a == text_b, (method, path, text_a, text_b)
            tried += 1
    assert tried >= 6  # prospects, touches, enrollments (get, pause, resume, halt), tasks

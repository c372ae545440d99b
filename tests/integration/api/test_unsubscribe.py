"""RFC 8058 one-click unsubscribe: GET confirms only, POST unsubscribes, once."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, delete, func, select

from cadence.api.app import create_app
from cadence.core.domain import EventKind
from cadence.runtime.context import AppContext
from cadence.sequences.events import record_by_hand
from cadence.store.database import transaction
from cadence.store.models import AuditEntry, Enrollment, Event, Prospect, Suppression
from tests.integration.engine.test_engine import _setup

pytestmark = pytest.mark.integration
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_get_confirms_post_unsubscribes(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    ctx = make_context()
    _setup(ctx, tmp_path)
    with transaction(ctx.engine) as session:
        token = session.exec(select(Prospect).where(Prospect.email == "ann@acme.example")).one()
    client = TestClient(create_app(ctx))
    page = client.get(f"/unsubscribe/{token.unsubscribe_token}")
    assert page.status_code == 200
    assert "ann@acme.example" in page.text
    with transaction(ctx.engine) as session:
        assert session.exec(select(Suppression)).all() == []  # a link scanner changes nothing
    done = client.post(
        f"/unsubscribe/{token.unsubscribe_token}",
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    with transaction(ctx.engine) as session:
        assert [s.value for s in session.exec(select(Suppression))] == ["ann@acme.example"]
        states = {e.prospect_id: e.state for e in session.exec(select(Enrollment))}
    assert states[1] == "halted"
    assert client.post("/unsubscribe/not-a-real-token-123456").status_code == 404
    assert client.get("/unsubscribe/%3Cscript%3E").status_code == 404


def _counts(ctx: AppContext) -> tuple[int, int, int]:
    with transaction(ctx.engine) as session:
        return (
            session.exec(select(func.count()).select_from(Event)).one(),
            session.exec(select(func.count()).select_from(AuditEntry)).one(),
            session.exec(select(func.count()).select_from(Suppression)).one(),
        )


def test_a_repeated_unsubscribe_answers_the_same_page_and_adds_nothing(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    ctx = make_context()
    _setup(ctx, tmp_path)
    with transaction(ctx.engine) as session:
        ann = session.exec(select(Prospect).where(Prospect.email == "ann@acme.example")).one()
    client = TestClient(create_app(ctx))
    url = f"/unsubscribe/{ann.unsubscribe_token}"
    one_click = {"content": "List-Unsubscribe=One-Click", "headers": FORM}
    first = client.post(url, **one_click)
    after_first = _counts(ctx)
    # The mail client's one-click, the page's button, a retry with no body: all the same.
    for again in (one_click, one_click, {"data": {"List-Unsubscribe": "One-Click"}}, {}):
        repeat = client.post(url, **again)
        assert (repeat.status_code, repeat.text) == (first.status_code, first.text)
        assert _counts(ctx) == after_first
    with transaction(ctx.engine) as session:
        kinds = session.exec(select(Event.kind).where(Event.prospect_id == ann.id)).all()
    assert kinds.count("unsubscribe") == 1

    # Let back in by hand, the same link unsubscribes again: the wish is recorded anew.
    with transaction(ctx.engine) as session:
        session.exec(delete(Suppression).where(col(Suppression.value) == ann.email))
    client.post(url, **one_click)
    with transaction(ctx.engine) as session:
        kinds = session.exec(select(Event.kind).where(Event.prospect_id == ann.id)).all()
        assert session.exec(select(Suppression.value)).all() == [ann.email]
    assert kinds.count("unsubscribe") == 2


def test_an_address_suppressed_for_another_reason_still_records_the_unsubscribe(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    ctx = make_context()
    _setup(ctx, tmp_path)
    record_by_hand(ctx, EventKind.BOUNCE, "bo@globex.example", actor="test", source="test")
    with transaction(ctx.engine) as session:
        bo = session.exec(select(Prospect).where(Prospect.email == "bo@globex.example")).one()
    client = TestClient(create_app(ctx))
    events, _, suppressions = _counts(ctx)
    assert client.post(f"/unsubscribe/{bo.unsubscribe_token}").status_code == 200
    assert _counts(ctx)[0] == events + 1  # the unsubscribe, kept for when the bounce is undone
    assert _counts(ctx)[2] == suppressions  # the address was suppressed already


def test_simultaneous_unsubscribe_posts_record_one_unsubscribe(
    make_context: Callable[..., AppContext], tmp_path: Path
) -> None:
    ctx = make_context()
    _setup(ctx, tmp_path)
    with transaction(ctx.engine) as session:
        ann = session.exec(select(Prospect).where(Prospect.email == "ann@acme.example")).one()
    app = create_app(ctx)
    url = f"/unsubscribe/{ann.unsubscribe_token}"

    def post(_: int) -> int:
        with TestClient(app) as client:
            return client.post(url, content="List-Unsubscribe=One-Click", headers=FORM).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(post, range(8))) == {200}
    with transaction(ctx.engine) as session:
        kinds = session.exec(select(Event.kind).where(Event.prospect_id == ann.id)).all()
    assert kinds.count("unsubscribe") == 1

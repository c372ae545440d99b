"""RFC 8058 one-click unsubscribe: GET confirms only, POST unsubscribes."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from cadence.api.app import create_app
from cadence.runtime.context import AppContext
from cadence.store.database import transaction
from cadence.store.models import Enrollment, Prospect, Suppression
from tests.integration.engine.test_engine import _setup

pytestmark = pytest.mark.integration


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

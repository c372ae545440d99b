"""Schemathesis over ``/openapi.json``, in process: no input the schema allows or forbids
makes the API answer 500. Bounded and deterministic: a few derandomized examples per
operation, as an admin (who may reach every route), on SQLite and PostgreSQL."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from sqlalchemy import create_engine, text

from cadence.api.app import create_app
from cadence.core.clock import SimulatedClock
from cadence.core.domain import EventKind
from cadence.runtime.context import build_context
from cadence.runtime.settings import load_settings
from cadence.runtime.store_setup import init_store
from cadence.sequences.enrollment import enroll_prospects
from cadence.sequences.events import record_by_hand
from cadence.sequences.prospect_import import import_prospects
from cadence.store.api_users import Role, add_user
from cadence.store.database import transaction
from tests.integration.conftest import REPO, START
from workers.embedded import EmbeddedEngine

from .test_api import ALEX_CSV, PRIYA_CSV

pytestmark = pytest.mark.integration
#: Examples per operation and mode: enough to find a 500, few enough for a 2-core CI.
EXAMPLES = 8


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, str]]:
    """A small store that ran a few days (touches, tasks, a reply) and an admin's token."""
    root = tmp_path_factory.mktemp("fuzz")
    cleanup = None
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'cadence.db'}"
    else:
        admin_url = request.getfixturevalue("postgres_admin_url")
        schema = f"fuzz_{uuid.uuid4().hex[:12]}"
        admin = create_engine(admin_url)
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{admin_url}?options=-csearch_path%3D{schema}"

        def cleanup() -> None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()

    clock = SimulatedClock(START)
    ctx = build_context(
        load_settings(
            database_url=url,
            redis_url=None,
            smtp_url=None,
            outbox_dir=root / "outbox",
            config_dir=REPO / "config",
            templates_dir=REPO / "templates",
        ),
        clock=clock,
    )
    init_store(ctx)
    for owner, text_ in (("alex", ALEX_CSV), ("priya", PRIYA_CSV)):
        path = root / f"{owner}.csv"
        path.write_text(text_, encoding="utf-8")
        import_prospects(ctx, path, owner=owner, actor="test")
    emails = ["ann@acme.example", "bo@globex.example", "cy@initech.example", "eve@evil.example"]
    enroll_prospects(ctx, emails, "seven-touch", owner=None, actor="test")
    with EmbeddedEngine(ctx, worker_threads=1) as engine:
        engine.simulate(clock, clock.now() + timedelta(days=8))
    record_by_hand(ctx, EventKind.REPLY, "ann@acme.example", actor="test", source="test")
    with transaction(ctx.engine) as session:
        token = add_user(session, "fuzzer", Role.ADMIN, now=clock.now(), actor="test")
    yield create_app(ctx), token
    ctx.close()
    if cleanup is not None:
        cleanup()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_the_api_fail(fuzz_store: tuple[Any, str], mode: GenerationMode) -> None:
    """Valid inputs (positive) and inputs the schema forbids (negative): never a 500."""
    app, token = fuzz_store
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(
        path_regex="^/api/v1/(?!inbound)"
    )
    headers = {"Authorization": f"Bearer {token}"}
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises
        tried.append(operation.label)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        call()
    assert len(tried) >= 19

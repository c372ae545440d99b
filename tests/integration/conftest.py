"""Real services: SQLite and PostgreSQL stores, the in-process and the Redis broker, an SMTP
server on loopback. A missing server fails the run; it is never skipped."""

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from cadence.core.clock import SimulatedClock
from cadence.runtime.context import AppContext, build_context
from cadence.runtime.settings import load_settings
from cadence.runtime.store_setup import init_store

REPO = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN_URL = os.environ.get(
    "CADENCE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CADENCE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
#: A Monday morning in UTC, before any of the test prospects' windows open.
START = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def _require(what: str, check: Callable[[], object]) -> None:
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure means the service is unusable
        pytest.fail(
            f"{what} is not reachable ({exc}); start it (scripts/test does) — integration "
            "tests are never skipped",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    engine = create_engine(POSTGRES_ADMIN_URL)
    _require(f"PostgreSQL at {POSTGRES_ADMIN_URL}", lambda: engine.connect().close())
    engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    _require(f"Redis at {REDIS_URL}", client.ping)
    client.close()
    return REDIS_URL


@pytest.fixture
def flushed_redis(redis_url: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield redis_url
    client.flushdb()
    client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test gets an empty store: a SQLite file, or its own PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cadence.db'}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{admin_url}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def make_context(database_url: str, tmp_path: Path) -> Iterator[Callable[..., AppContext]]:
    """Build a context on the test's store with a simulated clock; closed after the test."""
    made: list[AppContext] = []

    def make(
        *,
        clock: SimulatedClock | None = None,
        redis_url: str | None = None,
        smtp_url: str | None = None,
        templates_dir: Path | None = None,
        config_dir: Path | None = None,
    ) -> AppContext:
        settings = load_settings(
            database_url=database_url,
            redis_url=redis_url,
            smtp_url=smtp_url,
            outbox_dir=tmp_path / "outbox",
            config_dir=config_dir or REPO / "config",
            templates_dir=templates_dir or REPO / "templates",
            public_url="https://cadence.test",
        )
        ctx = build_context(settings, clock=clock or SimulatedClock(START))
        init_store(ctx)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()

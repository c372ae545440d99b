"""Fixtures of the fault tests: every test gets a fresh world (see rig.py) and tears it down,
processes first. Missing services fail the run; nothing here ever skips.

Each test ends with a line ``FAULT <name>: sent=N duplicates=D lost=L unconfirmed=U``, printed
and repeated in pytest's terminal summary so the counts can be quoted without ``-s``.
"""

import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from .redis_server import RedisServer
from .rig import (
    POSTGRES_ADMIN_URL,
    Rig,
    make_admin_engine,
    make_store_engine,
    open_zone,
    write_config,
)
from .sink import FaultSink
from .tally import Tally

_FAULT_LINES = pytest.StashKey[list[str]]()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    admin = make_admin_engine()
    try:
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001 - any failure means the service is unusable
        pytest.fail(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({exc}); start it "
            "(scripts/services does) — the fault tests are never skipped",
            pytrace=False,
        )
    schema = f"f_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    redis_server = RedisServer(free_port(), tmp_path / "redis.log")
    sink = FaultSink(free_port())
    world = Rig(
        tmp=tmp_path,
        schema=schema,
        redis=redis_server,
        sink=sink,
        config_dir=write_config(tmp_path / "config"),
        engine=make_store_engine(schema),
        admin=admin,
        zone=open_zone(datetime.now(UTC)),
    )
    try:
        redis_server.start()
        sink.start()
        world.cli("init")
        yield world
    finally:
        world.stop_all()
        redis_server.stop()
        sink.stop()
        world.engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def report_fault(request: pytest.FixtureRequest) -> Callable[[Tally], None]:
    """Print a test's closing count and keep it for the terminal summary."""

    def report(tally: Tally) -> None:
        print(tally.line())
        print(tally.detail())
        request.config.stash.setdefault(_FAULT_LINES, []).extend([tally.line(), tally.detail()])

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(_FAULT_LINES, [])
    if lines:
        terminalreporter.section("fault counts")
        for line in lines:
            terminalreporter.write_line(line)

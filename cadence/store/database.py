"""Engines, transactions and migrations for SQLite (embedded) and PostgreSQL (production).

The caller owns the transaction: store code takes a session and never commits.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_db_engine(url: str, *, threads: int = 8) -> Engine:
    """An engine tuned per backend.

    SQLite: WAL, a busy timeout, and ``BEGIN IMMEDIATE`` so that a transaction takes the write
    lock up front; worker threads then queue instead of failing with "database is locked",
    and a claim and a halt serialize as the design requires.

    PostgreSQL: a pool of at least two connections per worker thread (``threads``): a claim
    holds one while a mailbox's first send of the day creates its counter row on another.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    _cache_batch_statements()
    per_thread = threads + 2  # the pool, and as many again in overflow: two a thread
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=max(10, per_thread),
        max_overflow=max(20, per_thread),
    )


def _cache_batch_statements() -> None:
    """Let psycopg cache its parse of the batch statements too.

    psycopg converts each query's placeholders in Python and caches the result only for
    queries of at most 50 parameters; a worker's batch INSERTs (audit entries, next touches)
    have hundreds, repeat in the same few shapes, and would be re-parsed every time, a
    large share of a worker's CPU. The limits are module constants of psycopg's (no public
    setting); if they move, this does nothing and only speed is lost.
    """
    try:
        from psycopg import _queries
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return
    if isinstance(getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", None), int):
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 5_000)
    if isinstance(getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", None), int):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 65_536)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    # SQLite's defaults are sized for small devices: a 2 MiB page cache (a 10,000-prospect
    # store is 100 MB; its touch indexes alone outgrow it) and a checkpoint every 4 MB of
    # WAL. Larger, a demo's store reads and writes far fewer pages; the WAL grows to about
    # 40 MB before a checkpoint (docs/benchmarks.md has the figures).
    cursor.execute("PRAGMA cache_size=-32768")  # KiB: up to 32 MiB a connection
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")  # deferred: a reader never takes the write lock
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


_READ_ONLY = "cadence_read_only"


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only. On SQLite every other transaction begins IMMEDIATE, so
    that writers queue for the one write lock; a read taking that lock would make them wait
    for nothing. Nothing written through it is safe on SQLite: use :func:`transaction`."""
    with engine.connect() as connection:
        connection.execution_options(**{_READ_ONLY: True})
        yield connection


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def schema_is_current(engine: Engine) -> bool:
    """Whether the store has been created and migrated to this version's newest revision."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision; safe to repeat."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

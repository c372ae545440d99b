"""On SQLite a write transaction takes the one write lock when it begins; a read through
``reading`` does not, so it never makes a writer wait."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from cadence.store.database import create_db_engine, migrate, reading, transaction
from cadence.store.models import TOUCHES

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "cadence.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    yield engine, path
    engine.dispose()


def _writer_can_begin(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        other.close()


def test_a_read_in_progress_leaves_the_write_lock_free(store: tuple[Engine, Path]) -> None:
    engine, path = store
    with reading(engine) as connection:
        assert connection.execute(select(func.count()).select_from(TOUCHES)).scalar_one() == 0
        assert connection.in_transaction()
        assert _writer_can_begin(path)


def test_a_write_transaction_holds_the_write_lock_from_its_start(
    store: tuple[Engine, Path],
) -> None:
    engine, path = store
    with transaction(engine) as session:
        session.connection()  # begins: no statement run yet
        assert not _writer_can_begin(path)
    assert _writer_can_begin(path)

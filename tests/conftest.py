"""Shared fixtures. Tests run in Europe/Berlin on purpose: a bug that assumes the machine is
on UTC shows up here, not in production."""

import os
import time

os.environ["TZ"] = "Europe/Berlin"
time.tzset()
# Settings come from fixtures only; a developer's .env or shell must not leak into tests.
for _name in list(os.environ):
    if _name.startswith("CADENCE_") and not _name.startswith("CADENCE_TEST_"):
        del os.environ[_name]


from collections.abc import Iterator  # noqa: E402 - after the environment is set

import pytest  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from cadence.store.database import create_db_engine, migrate  # noqa: E402


@pytest.fixture
def engine() -> Iterator[Engine]:
    """An in-memory SQLite store on the real migrations."""
    made = create_db_engine("sqlite://")
    migrate(made)
    yield made
    made.dispose()

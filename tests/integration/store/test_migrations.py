"""The Alembic migrations build exactly the schema the models declare, on both stores."""

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from cadence.runtime.context import AppContext

pytestmark = pytest.mark.integration


def test_migrated_schema_matches_models(make_context: Callable[..., AppContext]) -> None:
    ctx = make_context()
    with ctx.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []

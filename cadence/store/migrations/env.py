"""Alembic environment: runs on the connection handed over by
:func:`cadence.store.database.migrate`, or on ``CADENCE_DATABASE_URL`` when alembic is used
from the command line."""

from alembic import context
from sqlmodel import SQLModel

import cadence.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from cadence.runtime.settings import load_settings
from cadence.store.database import create_db_engine

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(load_settings().database_url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()

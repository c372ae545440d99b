"""page sessions: the pages' cookie names a server-side session, not the API token

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cadence.store.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pagesession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", cadence.store.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", cadence.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("id_hash"),
    )
    with op.batch_alter_table("pagesession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pagesession_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pagesession_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pagesession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pagesession_expires_at"))
        batch_op.drop_index(batch_op.f("ix_pagesession_user_id"))
    op.drop_table("pagesession")

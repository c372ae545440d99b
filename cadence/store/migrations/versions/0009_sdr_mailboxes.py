"""SDR mailboxes: health, folder checkpoints and reader leases

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cadence.store.models

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailboxstate",
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("health", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("changed_at", cadence.store.models.UTCDateTime(), nullable=False),
        sa.Column("last_sync_at", cadence.store.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("owner"),
    )
    op.create_table(
        "mailboxfolder",
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", cadence.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "folder"),
    )
    op.create_table(
        "mailboxlease",
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", cadence.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    op.create_index("ix_mailboxlease_expires_at", "mailboxlease", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mailboxlease_expires_at", table_name="mailboxlease")
    op.drop_table("mailboxlease")
    op.drop_table("mailboxfolder")
    op.drop_table("mailboxstate")

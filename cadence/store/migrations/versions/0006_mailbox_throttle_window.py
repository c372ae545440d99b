"""mailbox throttle window on the day counter row

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cadence.store.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailboxday") as batch:
        batch.add_column(
            sa.Column("window_started_at", cadence.store.models.UTCDateTime(), nullable=True)
        )
        batch.add_column(sa.Column("window_sent", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("mailboxday") as batch:
        batch.drop_column("window_sent")
        batch.drop_column("window_started_at")

"""mailbox day counters: bounces that rejected the sender

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailboxday") as batch:
        batch.add_column(sa.Column("rejections", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("mailboxday") as batch:
        batch.drop_column("rejections")

"""SDR mailboxes, sending: the mailbox each email left from, the guard's counters and mark

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("touch") as batch:
        batch.add_column(sa.Column("mailbox", sa.String(length=100), nullable=True))
    with op.batch_alter_table("mailboxday") as batch:
        for name in ("hard_bounces", "complaints", "forgiven_sends"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_mailboxday_day", "mailboxday", ["day"], unique=False)
    with op.batch_alter_table("mailboxstate") as batch:
        batch.add_column(
            sa.Column("guard_due", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("mailboxstate") as batch:
        batch.drop_column("guard_due")
    op.drop_index("ix_mailboxday_day", table_name="mailboxday")
    with op.batch_alter_table("mailboxday") as batch:
        for name in ("forgiven_sends", "complaints", "hard_bounces"):
            batch.drop_column(name)
    with op.batch_alter_table("touch") as batch:
        batch.drop_column("mailbox")

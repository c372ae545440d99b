"""drop the touch indexes no query uses

``ix_touch_enrollment_id`` repeats the leading column of ``uq_touch_step`` (enrollment_id,
step), which serves every lookup by enrollment; ``ix_touch_started_at`` served the send-limit
count that the mailbox day counters replaced (0005). Every touch inserted, claimed and sent
wrote both, and on PostgreSQL each status change (never a HOT update) writes an entry in
every index of the table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 11:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.drop_index("ix_touch_started_at")
        batch_op.drop_index("ix_touch_enrollment_id")


def downgrade() -> None:
    with op.batch_alter_table("touch", schema=None) as batch_op:
        batch_op.create_index("ix_touch_enrollment_id", ["enrollment_id"], unique=False)
        batch_op.create_index("ix_touch_started_at", ["started_at"], unique=False)

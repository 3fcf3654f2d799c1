"""why a started job is back in the queue, shown in the Studio

Revision ID: ux14b_01
Revises: pool_01
Create Date: 2026-12-02 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "ux14b_01"
down_revision: str | None = "pool_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requeue_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.drop_column("requeue_note")

"""a job's idempotency key, unique per user: a repeated submit returns the first job

Revision ID: rel13_01
Revises: ux14_03
Create Date: 2026-12-02 04:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "rel13_01"
down_revision: str | None = "ux14_03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_index(
            "ux_job_user_idempotency", ["user_id", "idempotency_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.drop_index("ux_job_user_idempotency")
        batch_op.drop_column("idempotency_key")

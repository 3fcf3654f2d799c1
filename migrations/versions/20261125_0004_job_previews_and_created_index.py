"""job previews (latest sampler frame while running) and an index on job creation time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preview", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("preview_mime", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_job_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.drop_index("ix_job_created")
        batch_op.drop_column("preview_mime")
        batch_op.drop_column("preview")

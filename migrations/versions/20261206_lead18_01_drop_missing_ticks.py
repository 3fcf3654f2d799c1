"""gpuinstance.missing_ticks dropped: a ghost is judged by sweeps, not counted ticks

The tick plans from complete sweeps of the provider's list (core.pool.sweeps): an instance
is lost when absent from two sweeps begun after its create returned, so the per-tick count
of absences is no longer kept or read.

Revision ID: lead18_01
Revises: tp18g_01
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lead18_01"
down_revision: str | None = "tp18g_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gpuinstance", schema=None) as batch_op:
        batch_op.drop_column("missing_ticks")


def downgrade() -> None:
    with op.batch_alter_table("gpuinstance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("missing_ticks", sa.Integer(), nullable=False, server_default="0")
        )

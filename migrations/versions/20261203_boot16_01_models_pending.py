"""gpuinstance.models_pending, poolconfig.min_inet_down_mbps: cold starts that download less

An instance is ready once a first image's files are verified; the others keep downloading
and jobs needing them wait (existing rows get []: every model in place). A pool can ask for
offers with a measured download speed (0, the default for existing pools: any).

Revision ID: boot16_01
Revises: workers23_01
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "boot16_01"
down_revision: str | None = "workers23_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("poolconfig") as batch:
        batch.add_column(
            sa.Column("min_inet_down_mbps", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("gpuinstance") as batch:
        batch.add_column(
            sa.Column(
                "models_pending",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default="[]",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("gpuinstance") as batch:
        batch.drop_column("models_pending")
    with op.batch_alter_table("poolconfig") as batch:
        batch.drop_column("min_inet_down_mbps")

"""adaptive pool policy: PoolConfig.adaptive and wait_value_per_hour_usd

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.models.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("poolconfig", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("adaptive", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column(
                "wait_value_per_hour_usd",
                core.models.types.Money(),
                nullable=False,
                server_default="3000000",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("poolconfig", schema=None) as batch_op:
        batch_op.drop_column("wait_value_per_hour_usd")
        batch_op.drop_column("adaptive")

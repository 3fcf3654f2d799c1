"""bill checks: each instance's accrued cost per UTC day beside the provider's bill

Revision ID: vast_01
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models.types

revision: str = "vast_01"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billcheck",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("accrued_usd", core.models.types.Money(), nullable=False),
        sa.Column("billed_usd", core.models.types.Money(), nullable=False),
        sa.Column("checked_at", core.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["gpuinstance.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pool", "day", "provider_id", name="uq_billcheck_pool_day_provider"),
    )
    op.create_index(op.f("ix_billcheck_day"), "billcheck", ["day"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_billcheck_day"), table_name="billcheck")
    op.drop_table("billcheck")

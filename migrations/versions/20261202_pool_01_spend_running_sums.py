"""spend as running sums per pool and UTC day; requested rows note when their create was sent

Revision ID: pool_01
Revises: muse21_01
Create Date: 2026-12-02 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models.types

revision: str = "pool_01"
down_revision: str | None = "muse21_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "poolspendday",
        sa.Column("pool", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("accrued_usd", core.models.types.Money(), nullable=False),
        sa.Column("checked_accrued_usd", core.models.types.Money(), nullable=True),
        sa.Column("billed_usd", core.models.types.Money(), nullable=True),
        sa.PrimaryKeyConstraint("pool", "day"),
    )
    with op.batch_alter_table("gpuinstance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "create_sent_at", core.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    # Today's running sums start from the history once; the reconcile tick never sums it again.
    day = "date(at)" if op.get_bind().dialect.name == "sqlite" else "(at AT TIME ZONE 'UTC')::date"
    op.execute(
        "INSERT INTO poolspendday (pool, day, accrued_usd) "
        f"SELECT pool, {day}, SUM(cost_usd) FROM usageevent WHERE kind = 'gpu_accrual' "
        f"GROUP BY pool, {day}"
    )
    checked = op.get_bind().execute(
        sa.text(
            "SELECT pool, day, SUM(accrued_usd), SUM(billed_usd) FROM billcheck GROUP BY pool, day"
        )
    )
    for pool, checked_day, accrued, billed in checked.all():
        found = op.get_bind().execute(
            sa.text(
                "UPDATE poolspendday SET checked_accrued_usd = :a, billed_usd = :b "
                "WHERE pool = :p AND day = :d"
            ),
            {"a": accrued, "b": billed, "p": pool, "d": checked_day},
        )
        if found.rowcount == 0:
            op.get_bind().execute(
                sa.text(
                    "INSERT INTO poolspendday (pool, day, accrued_usd, checked_accrued_usd, "
                    "billed_usd) VALUES (:p, :d, 0, :a, :b)"
                ),
                {"a": accrued, "b": billed, "p": pool, "d": checked_day},
            )


def downgrade() -> None:
    with op.batch_alter_table("gpuinstance", schema=None) as batch_op:
        batch_op.drop_column("create_sent_at")
    op.drop_table("poolspendday")

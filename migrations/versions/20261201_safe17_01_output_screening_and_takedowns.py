"""output screening on assets, perceptual hashes on blocked files, takedown requests

asset gains what the output screener saw (screen_model, screen_labels, screened_at);
blockedhash gains a perceptual hash and the takedown request it came from; takedownrequest
holds removal requests filed without an account, with their 48-hour due time.

Revision ID: safe17_01
Revises: sim16_01
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.models.types

revision: str = "safe17_01"
down_revision: str | None = "sim16_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "takedownrequest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(length=500), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("requester_name", sa.String(length=120), nullable=False),
        sa.Column("requester_email", sa.String(length=254), nullable=False),
        sa.Column("relationship", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.String(length=120), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "removed", "rejected", name="takedownstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("created_at", core.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", core.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", core.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"]),
        sa.ForeignKeyConstraint(["resolved_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("takedownrequest", schema=None) as batch_op:
        batch_op.create_index("ix_takedownrequest_asset_id", ["asset_id"], unique=False)
        batch_op.create_index("ix_takedownrequest_status_due", ["status", "due_at"], unique=False)
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.add_column(sa.Column("screen_model", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "screen_labels",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )
        batch_op.add_column(
            sa.Column("screened_at", core.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "flag_decided_at", core.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("blockedhash", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phash", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("takedown_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_blockedhash_takedown_id", "takedownrequest", ["takedown_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("blockedhash", schema=None) as batch_op:
        batch_op.drop_constraint("fk_blockedhash_takedown_id", type_="foreignkey")
        batch_op.drop_column("takedown_id")
        batch_op.drop_column("phash")
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.drop_column("flag_decided_at")
        batch_op.drop_column("screened_at")
        batch_op.drop_column("screen_labels")
        batch_op.drop_column("screen_model")
    with op.batch_alter_table("takedownrequest", schema=None) as batch_op:
        batch_op.drop_index("ix_takedownrequest_status_due")
        batch_op.drop_index("ix_takedownrequest_asset_id")
    op.drop_table("takedownrequest")

"""boards: users' collections of pictures and their revocable share links

Revision ID: boards22_01
Revises: remix20_01
Create Date: 2026-12-03 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from core.models.types import UTCDateTime

revision: str = "boards22_01"
down_revision: str | None = "remix20_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "board",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_board_owner_name", "board", ["owner_id", "name"])
    op.create_table(
        "boarditem",
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("added_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["asset.id"]),
        sa.ForeignKeyConstraint(["board_id"], ["board.id"]),
        sa.PrimaryKeyConstraint("board_id", "asset_id"),
    )
    op.create_index("ix_boarditem_board_added", "boarditem", ["board_id", "added_at", "asset_id"])
    op.create_index("ix_boarditem_asset", "boarditem", ["asset_id"])
    op.create_table(
        "boardsharelink",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["board_id"], ["board.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_boardsharelink_board_id", "boardsharelink", ["board_id"])


def downgrade() -> None:
    op.drop_index("ix_boardsharelink_board_id", table_name="boardsharelink")
    op.drop_table("boardsharelink")
    op.drop_index("ix_boarditem_asset", table_name="boarditem")
    op.drop_index("ix_boarditem_board_added", table_name="boarditem")
    op.drop_table("boarditem")
    op.drop_index("ix_board_owner_name", table_name="board")
    op.drop_table("board")

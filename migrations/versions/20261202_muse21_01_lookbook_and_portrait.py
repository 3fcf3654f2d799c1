"""look-book references (a muse's own generated pictures) and the muse's portrait

A reference with `asset_id` is one of the owner's generated pictures pinned to a muse; the
muse's `portrait_sha256` names the reference its card shows.

Revision ID: muse21_01
Revises: api24_02
Create Date: 2026-12-02 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "muse21_01"
down_revision: str | None = "api24_02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("muse", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("portrait_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    with op.batch_alter_table("referenceimage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asset_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_referenceimage_asset_id", ["asset_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_referenceimage_asset_id_asset", "asset", ["asset_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("referenceimage", schema=None) as batch_op:
        batch_op.drop_constraint("fk_referenceimage_asset_id_asset", type_="foreignkey")
        batch_op.drop_index("ix_referenceimage_asset_id")
        batch_op.drop_column("asset_id")
    with op.batch_alter_table("muse", schema=None) as batch_op:
        batch_op.drop_column("portrait_sha256")

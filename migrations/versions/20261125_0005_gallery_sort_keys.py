"""stored, indexed gallery sort keys: rating_score and trending_score on asset, an index per
sort after visibility, ratings indexed by creation time for the trending window

rating_score is backfilled here from rating_sum and rating_count (the Bayesian score of
core.models.gallery.bayesian_rating_milli: 3 prior votes of 3 stars, in thousandths of a
star); trending_score starts at 0 and fills on the scheduler's first trending refresh.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SORT_INDEXES = {
    "ix_asset_visibility_rating": ["visibility", "rating_score", "id"],
    "ix_asset_visibility_trending": ["visibility", "trending_score", "id"],
    "ix_asset_visibility_views": ["visibility", "view_count", "id"],
    "ix_asset_trending": ["trending_score"],
}


def upgrade() -> None:
    with op.batch_alter_table("asset", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rating_score", sa.Integer(), nullable=False, server_default="3000")
        )
        batch_op.add_column(
            sa.Column("trending_score", sa.Integer(), nullable=False, server_default="0")
        )
    # Integer division on both backends, as in the model's formula.
    op.execute("UPDATE asset SET rating_score = (rating_sum * 1000 + 9000) / (rating_count + 3)")
    with op.batch_alter_table("asset", schema=None) as batch_op:
        for name, columns in SORT_INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table("rating", schema=None) as batch_op:
        batch_op.create_index("ix_rating_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rating", schema=None) as batch_op:
        batch_op.drop_index("ix_rating_created")
    with op.batch_alter_table("asset", schema=None) as batch_op:
        for name in SORT_INDEXES:
            batch_op.drop_index(name)
        batch_op.drop_column("trending_score")
        batch_op.drop_column("rating_score")

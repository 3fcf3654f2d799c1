"""the tag index holds the picture's id: a tag's pictures are read from the index alone

A tag filter reads a tag's pictures (their ids, or only how many there are) before it walks
a sort index (core.gallery.listing._tagged). With the index on `tag` alone each entry led
to its row of `assettag` for the picture's id: 12,500 row reads for a tag on one picture in
80 at a million. `(tag, asset_id)` holds the id itself.

Revision ID: scale22_01
Revises: search22_01
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "scale22_01"
down_revision: str | None = "search22_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_assettag_tag_asset", "assettag", ["tag", "asset_id"])
    op.drop_index("ix_assettag_tag", table_name="assettag")


def downgrade() -> None:
    op.create_index("ix_assettag_tag", "assettag", ["tag"])
    op.drop_index("ix_assettag_tag_asset", table_name="assettag")

"""asset (screening, created_at, id) indexed: the outputs waiting for their checks are found

A job stores its output as `waiting` and finishes; a background pass decodes it, looks it up
among the blocked pictures and screens it (core.gallery.verdicts), and a backstop after a
restart finds the ones still waiting through this index (the flagged outputs' review queue,
oldest first, reads it too).

Revision ID: tp18h_01
Revises: lead18_01
Create Date: 2026-12-07 12:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tp18h_01"
down_revision: str | None = "lead18_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_asset_screening_created", "asset", ["screening", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_asset_screening_created", table_name="asset")

"""Partial indexes for the outputs waiting for their checks and the flagged ones' review queue

A job stores its output as `waiting` and finishes; a background pass decodes it, looks it up
among the blocked pictures and screens it (core.gallery.verdicts), and a backstop after a
restart finds the ones still waiting, oldest first, through ix_asset_waiting; the review queue
reads the flagged outputs no moderator has decided on through ix_asset_flagged_undecided. Both
hold a few rows. Not one index (screening, created_at, id): SQLite's planner then took it for
the public pages, which filter on screening as they do on visibility.

Revision ID: tp18h_01
Revises: lead18_01
Create Date: 2026-12-07 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tp18h_01"
down_revision: str | None = "lead18_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As written here on the day (the models' predicates may change later, a migration does not).
INDEXES = {
    "ix_asset_waiting": "screening = 'waiting'",
    "ix_asset_flagged_undecided": "screening = 'flagged' AND flag_decided_at IS NULL",
}


def upgrade() -> None:
    for name, predicate in INDEXES.items():
        where = sa.text(predicate)
        op.create_index(
            name, "asset", ["created_at", "id"], sqlite_where=where, postgresql_where=where
        )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="asset")

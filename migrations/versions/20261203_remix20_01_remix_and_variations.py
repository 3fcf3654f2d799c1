"""an owner's consent to show how a picture was made, and "more like this" variation jobs

`asset.recipe_public`: other viewers see a picture's prompts and settings (and may remix
it) only when its owner allowed it. `generationjob.variation_of`: the job a variation was
made from, so the Studio shows the variations of one result together as a grid.

Revision ID: remix20_01
Revises: perf18_01
Create Date: 2026-12-03 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "remix20_01"
down_revision: str | None = "perf18_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs on asset (SQLite 3.35+ drops columns in place): a batch copy of the table
    # would lose its title-search triggers.
    op.add_column(
        "asset",
        sa.Column("recipe_public", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    with op.batch_alter_table("generationjob") as batch:
        batch.add_column(sa.Column("variation_of", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_generationjob_variation_of", "generationjob", ["variation_of"], ["id"]
        )
        batch.create_index("ix_generationjob_variation_of", ["variation_of"])


def downgrade() -> None:
    with op.batch_alter_table("generationjob") as batch:
        batch.drop_index("ix_generationjob_variation_of")
        batch.drop_constraint("fk_generationjob_variation_of", type_="foreignkey")
        batch.drop_column("variation_of")
    op.drop_column("asset", "recipe_public")

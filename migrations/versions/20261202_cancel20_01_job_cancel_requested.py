"""job cancel request: a started job can be stopped; its worker interrupts it

Revision ID: cancel20_01
Revises: mail23_01
Create Date: 2026-12-02 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.models.types

revision: str = "cancel20_01"
down_revision: str | None = "mail23_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cancel_requested_at", core.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.drop_column("cancel_requested_at")

"""email verification: when each user's address was proved, and when a link was last mailed

Existing users have none recorded: their accounts show "not verified" with a button to send
the link (verification is informational; nothing is blocked on it).

Revision ID: mail23_01
Revises: ux14b_01
Create Date: 2026-12-02 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.models.types

revision: str = "mail23_01"
down_revision: str | None = "ux14b_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verified_at", core.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "verification_sent_at", core.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("verification_sent_at")
        batch_op.drop_column("verified_at")

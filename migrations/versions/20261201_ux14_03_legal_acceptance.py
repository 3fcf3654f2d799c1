"""the versions of the terms of service and privacy notice each user accepted

Existing users have none recorded, so they are asked to accept the texts in force at their
next sign-in.

Revision ID: ux14_03
Revises: ux14_02
Create Date: 2026-12-01 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models.types

revision: str = "ux14_03"
down_revision: str | None = "ux14_02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("terms_version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("privacy_version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "legal_accepted_at", core.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("legal_accepted_at")
        batch_op.drop_column("privacy_version")
        batch_op.drop_column("terms_version")

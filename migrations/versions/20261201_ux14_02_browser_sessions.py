"""browser sessions fetch their HttpOnly cookie with a single-use handoff code

authsession.token_sha256 becomes nullable (a browser session has no token until its cookie
is fetched) and gains handoff_sha256 (unique) and handoff_expires_at.

Revision ID: ux14_02
Revises: ux14_01
Create Date: 2026-12-01 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models.types

revision: str = "ux14_02"
down_revision: str | None = "ux14_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("authsession", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("handoff_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "handoff_expires_at", core.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.alter_column(
            "token_sha256", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        )
        batch_op.create_index(
            batch_op.f("ix_authsession_handoff_sha256"), ["handoff_sha256"], unique=True
        )


def downgrade() -> None:
    # Sessions whose cookie was never fetched cannot be kept without a token.
    op.execute("DELETE FROM authsession WHERE token_sha256 IS NULL")
    with op.batch_alter_table("authsession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authsession_handoff_sha256"))
        batch_op.alter_column(
            "token_sha256",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=False,
        )
        batch_op.drop_column("handoff_expires_at")
        batch_op.drop_column("handoff_sha256")

"""sign-in lockout counted per typed name (loginthrottle) instead of on the user row;
reset codes revoked when the password changes

The user's failed_logins and locked_until go: the counter now lives in loginthrottle, one row
per name typed at sign-in (an account's or not), claimed before a password is checked. A
lockout in force at upgrade time is not carried over (it lasts minutes).

Revision ID: ux14_01
Revises: safe17_01
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models.types

revision: str = "ux14_01"
down_revision: str | None = "safe17_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loginthrottle",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", core.models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", core.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("loginthrottle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_loginthrottle_updated_at"), ["updated_at"], unique=False
        )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("locked_until")
    with op.batch_alter_table("passwordreset", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revoked_at", core.models.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("passwordreset", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locked_until", core.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("loginthrottle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loginthrottle_updated_at"))
    op.drop_table("loginthrottle")

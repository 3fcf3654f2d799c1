"""stripe payments and applied stripe events (refunds, disputes, once per event id)

Revision ID: pay23_01
Revises: gallery22_01
Create Date: 2026-12-02 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models.types

revision: str = "pay23_01"
down_revision: str | None = "gallery22_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = core.models.types.UTCDateTime(timezone=True)
_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "stripepayment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkout_id", _TEXT(length=255), nullable=False),
        sa.Column("payment_intent", _TEXT(length=255), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("pack_id", _TEXT(length=32), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("refunded_credits", sa.Integer(), nullable=False),
        sa.Column("disputed_credits", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checkout_id"),
        sa.UniqueConstraint("payment_intent"),
    )
    with op.batch_alter_table("stripepayment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stripepayment_user_id"), ["user_id"], unique=False)
    op.create_table(
        "stripeevent",
        sa.Column("event_id", _TEXT(length=255), nullable=False),
        sa.Column("type", _TEXT(length=64), nullable=False),
        sa.Column("outcome", _TEXT(length=32), nullable=False),
        sa.Column("applied_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    op.drop_table("stripeevent")
    op.drop_table("stripepayment")

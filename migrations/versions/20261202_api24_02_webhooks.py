"""webhooks and their deliveries (job events, signed, retried)

Revision ID: api24_02
Revises: api24_01
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models.types

revision: str = "api24_02"
down_revision: str | None = "api24_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = core.models.types.UTCDateTime(timezone=True)
_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("url", _TEXT(length=500), nullable=False),
        sa.Column("secret", _TEXT(length=64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("deleted_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_user_id"), ["user_id"], unique=False)
    op.create_table(
        "webhookdelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("event", _TEXT(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", _TEXT(length=300), nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.Column("gave_up_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["generationjob.id"]),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhook.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("webhook_id", "job_id", "event", name="uq_delivery_once"),
    )
    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhookdelivery_due", ["delivered_at", "gave_up_at", "next_attempt_at"]
        )
        batch_op.create_index(
            batch_op.f("ix_webhookdelivery_webhook_id"), ["webhook_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("webhookdelivery")
    op.drop_table("webhook")

"""which worker process runs a job, and when it last said it still does

A job claimed by a worker process (`aikings-worker`) carries the worker's id and a heartbeat
the worker renews; the leader requeues or refunds a job whose worker's heartbeat went stale.

Revision ID: workers23_01
Revises: boards22_01
Create Date: 2026-12-03 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.models.types

revision: str = "workers23_01"
down_revision: str | None = "boards22_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("worker_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "heartbeat_at", core.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_index("ix_job_worker_status", "generationjob", ["worker_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_job_worker_status", table_name="generationjob")
    with op.batch_alter_table("generationjob", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("worker_id")

"""indexes for the estimate medians, the fair queue's in-flight counts and a user's history

`median_duration_s` reads the newest successful jobs of one preset, model and kind; the fair
queue counts each queued user's leased/running jobs; the Studio lists a user's newest jobs by
id. Without these, each read scans a heavy user's (or everyone's) whole history.

Revision ID: perf18_01
Revises: pay23_01
Create Date: 2026-12-02 04:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "perf18_01"
down_revision: str | None = "pay23_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_job_estimate",
        "generationjob",
        ["status", "preset", "model", "kind", "finished_at"],
    )
    op.create_index("ix_job_status_user", "generationjob", ["status", "user_id"])
    op.create_index("ix_job_user_id", "generationjob", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_job_user_id", table_name="generationjob")
    op.drop_index("ix_job_status_user", table_name="generationjob")
    op.drop_index("ix_job_estimate", table_name="generationjob")

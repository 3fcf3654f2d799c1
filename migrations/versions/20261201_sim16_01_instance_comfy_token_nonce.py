"""a per-instance ComfyUI token: gpuinstance.comfy_token_nonce

The random nonce each new instance row gets; the bearer token its ComfyUI proxy expects is an
HMAC of it under AUDIT_HMAC_SECRET (core.pool.launch). Rows from before stay NULL and keep
the old pool-wide token until they are replaced.

Revision ID: sim16_01
Revises: vast_01
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "sim16_01"
down_revision: str | None = "vast_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gpuinstance", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "comfy_token_nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("gpuinstance", schema=None) as batch_op:
        batch_op.drop_column("comfy_token_nonce")

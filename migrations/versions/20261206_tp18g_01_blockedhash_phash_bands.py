"""a blocked picture's perceptual hash in four indexed 16-bit bands

`fingerprints.is_blocked_picture` read every blocked row's perceptual hash on every job and
upload, a cost that grew with each takedown. A copy within 10 bits differs by at most 2 in
one of four 16-bit bands, so the look-up reads only the rows whose band is that near
(`core.models.gallery.phash_bands`). Rows already blocked get their bands here.

Revision ID: tp18g_01
Revises: scale22_01
Create Date: 2026-12-06 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tp18g_01"
down_revision: str | None = "scale22_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANDS = 4
BAND_BITS = 16


def _bands(phash: str) -> list[int]:
    value, mask = int(phash, 16), (1 << BAND_BITS) - 1
    return [(value >> (BAND_BITS * (BANDS - 1 - band))) & mask for band in range(BANDS)]


def upgrade() -> None:
    with op.batch_alter_table("blockedhash") as batch_op:
        for band in range(BANDS):
            batch_op.add_column(sa.Column(f"phash_band{band}", sa.Integer(), nullable=True))
    for band in range(BANDS):
        op.create_index(f"ix_blockedhash_phash_band{band}", "blockedhash", [f"phash_band{band}"])
    table = sa.table(
        "blockedhash",
        sa.column("sha256", sa.String),
        sa.column("phash", sa.String),
        *(sa.column(f"phash_band{band}", sa.Integer) for band in range(BANDS)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(table.c.sha256, table.c.phash).where(table.c.phash.is_not(None))
    ).all()
    for sha256, phash in rows:
        values = {f"phash_band{band}": v for band, v in enumerate(_bands(phash))}
        bind.execute(table.update().where(table.c.sha256 == sha256).values(**values))


def downgrade() -> None:
    for band in range(BANDS):
        op.drop_index(f"ix_blockedhash_phash_band{band}", table_name="blockedhash")
    with op.batch_alter_table("blockedhash") as batch_op:
        for band in range(BANDS):
            batch_op.drop_column(f"phash_band{band}")

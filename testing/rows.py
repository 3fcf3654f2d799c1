"""Row counts per table, for tests that check a refused input wrote nothing."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.models import metadata


def row_counts(engine: Engine, *, skip: Collection[str] = ()) -> dict[str, int]:
    """How many rows each table of the schema holds, but for the tables named in `skip`
    (the records a refusal itself writes, such as the audit log)."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in metadata.sorted_tables
            if table.name not in skip
        }

"""indexes for the "mine" sorts (owner, key, id) and full-text search over titles

"Mine" with many own pictures sorted by top-rated, trending or most-viewed read the owner's
rows and sorted them; an index (owner_id, key, id) per sort makes each page an index range.

Title search was `lower(title) LIKE '%…%'`, a scan of every row. SQLite gets an FTS5 table
`asset_search` (trigram tokenizer: substring matches, case-insensitive) kept in step with
`asset.title` by triggers; PostgreSQL gets a pg_trgm GIN index on lower(title), which serves
the same `LIKE '%…%'`. Neither is a model (core.db.UNMODELLED_NAMES keeps autogenerate and
the models-vs-migrations test from reporting them).

Caution: a later SQLite batch migration that recreates `asset` drops the triggers; recreate
them there (`create_sqlite_search()` below). tests/integration/test_gallery_search.py fails
if they are missing at head.

Revision ID: gallery22_01
Revises: cancel20_01
Create Date: 2026-12-02 04:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "gallery22_01"
down_revision: str | None = "cancel20_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MINE_INDEXES = {
    "ix_asset_owner_rating": ["owner_id", "rating_score", "id"],
    "ix_asset_owner_trending": ["owner_id", "trending_score", "id"],
    "ix_asset_owner_views": ["owner_id", "view_count", "id"],
}
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE asset_search USING fts5("
    "title, content='asset', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER asset_search_insert AFTER INSERT ON asset BEGIN "
    "INSERT INTO asset_search(rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER asset_search_delete AFTER DELETE ON asset BEGIN "
    "INSERT INTO asset_search(asset_search, rowid, title) VALUES ('delete', old.id, old.title);"
    " END",
    "CREATE TRIGGER asset_search_update AFTER UPDATE OF title ON asset BEGIN "
    "INSERT INTO asset_search(asset_search, rowid, title) VALUES ('delete', old.id, old.title);"
    " INSERT INTO asset_search(rowid, title) VALUES (new.id, new.title); END",
    "INSERT INTO asset_search(asset_search) VALUES ('rebuild')",
)


def create_sqlite_search() -> None:
    """The FTS5 table over asset titles, its triggers, and its contents rebuilt."""
    for statement in SQLITE_SEARCH:
        op.execute(statement)


def upgrade() -> None:
    for name, columns in MINE_INDEXES.items():
        op.create_index(name, "asset", columns, unique=False)
    if op.get_bind().dialect.name == "sqlite":
        create_sqlite_search()
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_asset_title_trgm ON asset USING gin (lower(title) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER asset_search_{trigger}")
        op.execute("DROP TABLE asset_search")
    else:
        op.execute("DROP INDEX ix_asset_title_trgm")
    for name in MINE_INDEXES:
        op.drop_index(name, "asset")

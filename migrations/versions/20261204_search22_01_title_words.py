"""a word index over titles beside the trigram one, for searches of several words

A trigram phrase match reads the posting list of every trigram of the search, and the
common trigrams of a million titles have huge lists: a rare two-word search read them all.
A search of several words is looked up by its words instead (core.gallery.search): SQLite
gets a second FTS5 table `asset_words` (unicode61 tokenizer, diacritics kept, the same case
folding as the trigram table) kept in step with `asset.title` by triggers; PostgreSQL a GIN
index on to_tsvector('simple', title). Neither is a model (search.UNMODELLED_NAMES).

Both GIN indexes (this one and gallery22_01's trigram index) are made `fastupdate = off`:
with it on, new entries wait in a pending list that every search reads through, up to
4 MB of it (a trending refresh that rewrites every row fills it): a 0.5 ms phrase lookup
took 15-25 ms at 200,000 rows.

Caution: as for gallery22_01, a later SQLite batch migration that recreates `asset` drops
the triggers; recreate them there (`create_sqlite_words()` below).

Revision ID: search22_01
Revises: boot16_01
Create Date: 2026-12-04 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "search22_01"
down_revision: str | None = "boot16_01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_WORDS = (
    "CREATE VIRTUAL TABLE asset_words USING fts5(title, content='asset', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER asset_words_insert AFTER INSERT ON asset BEGIN "
    "INSERT INTO asset_words(rowid, title) VALUES (new.id, new.title); END",
    "CREATE TRIGGER asset_words_delete AFTER DELETE ON asset BEGIN "
    "INSERT INTO asset_words(asset_words, rowid, title) VALUES ('delete', old.id, old.title);"
    " END",
    "CREATE TRIGGER asset_words_update AFTER UPDATE OF title ON asset BEGIN "
    "INSERT INTO asset_words(asset_words, rowid, title) VALUES ('delete', old.id, old.title);"
    " INSERT INTO asset_words(rowid, title) VALUES (new.id, new.title); END",
    "INSERT INTO asset_words(asset_words) VALUES ('rebuild')",
)


def create_sqlite_words() -> None:
    """The word FTS5 table over asset titles, its triggers, and its contents rebuilt."""
    for statement in SQLITE_WORDS:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        create_sqlite_words()
    else:
        op.execute(
            "CREATE INDEX ix_asset_title_words ON asset"
            " USING gin (to_tsvector('simple'::regconfig, title)) WITH (fastupdate = off)"
        )
        op.execute("ALTER INDEX ix_asset_title_trgm SET (fastupdate = off)")
        op.execute("SELECT gin_clean_pending_list('ix_asset_title_trgm')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER asset_words_{trigger}")
        op.execute("DROP TABLE asset_words")
    else:
        op.execute("ALTER INDEX ix_asset_title_trgm RESET (fastupdate)")
        op.execute("DROP INDEX ix_asset_title_words")

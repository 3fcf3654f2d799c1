"""Gallery search: the assets whose title contains the words, or whose tag is the words.

Titles are found through an index on both backends, never by scanning: SQLite's FTS5 table
`asset_search` (trigram tokenizer) and PostgreSQL's pg_trgm GIN index on lower(title), both
made by migration gallery22_01. A trigram index needs three characters, so a shorter search
matches tags only. Search text is data: quotes, `%`, `_` and backslashes match themselves.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from core.gallery.taxonomy import normalize_tags
from core.models import Asset, AssetTag

MAX_SEARCH_CHARS = 100
MIN_TITLE_CHARS = 3  # a trigram index cannot serve fewer
UNMODELLED_NAMES = frozenset(
    {
        "asset_search",
        "asset_search_config",
        "asset_search_data",
        "asset_search_docsize",
        "asset_search_idx",
        "ix_asset_title_trgm",
    }
)
"""Schema objects made by migration and not by the models (the models-vs-migrations check
skips them)."""


def clean(text: str) -> str:
    """The search as matched: NUL and control characters dropped, spaces collapsed,
    lowercased, at most 100 characters."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split()).lower()[:MAX_SEARCH_CHARS]


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _title_ids(dialect: str, text: str) -> Any:
    """SELECT of the ids of assets whose title contains `text` (at least 3 characters)."""
    if dialect == "sqlite":
        phrase = '"' + text.replace('"', '""') + '"'
        return (
            sa.select(sa.column("rowid"))
            .select_from(sa.table("asset_search"))
            .where(sa.text("asset_search MATCH :phrase").bindparams(phrase=phrase))
        )
    return select(col(Asset.id)).where(
        sa.func.lower(Asset.title).like(_like_pattern(text), escape="\\")
    )


def matching(dialect: str, text: str) -> Any | None:
    """The WHERE condition of assets matching the search `text`, or None for an empty search.

    A match is a title containing the cleaned text, or a tag equal to it written as a tag
    (`Golden hour` finds the tag `golden-hour`).
    """
    needle = clean(text)
    if not needle:
        return None
    sources = []
    if len(needle) >= MIN_TITLE_CHARS:
        sources.append(_title_ids(dialect, needle))
    tags = normalize_tags([needle])
    if tags:
        sources.append(select(col(AssetTag.asset_id)).where(col(AssetTag.tag) == tags[0]))
    if not sources:
        return sa.false()
    return col(Asset.id).in_(sa.union(*sources) if len(sources) > 1 else sources[0])


def is_modelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name` hook: False for the search objects the models do not own."""
    return name not in UNMODELLED_NAMES

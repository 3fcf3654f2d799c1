"""Gallery search: the assets whose title contains the words, or whose tag is the words.

Titles are found through an index on both backends, never by scanning. A search of one word
(or with punctuation or non-ASCII letters) reads the trigram index: SQLite's FTS5 table
`asset_search` and PostgreSQL's pg_trgm GIN index on lower(title) (migration gallery22_01).
A search of several ASCII words reads the word index instead (migration search22_01:
SQLite's FTS5 table `asset_words`, PostgreSQL's GIN index on to_tsvector('simple', title)),
whose lists are those of whole words, short, where a trigram phrase reads the long lists of
common trigrams (a rare two-word search read them all).

So the two match differently. One word (or punctuation, or non-ASCII letters): the title
contains the text anywhere, inside words too (`den` finds "Golden"). Several ASCII words: the
title holds them as a phrase, in order, side by side, each a whole word but the last, which
may be the start of one when it has 3 letters or more (`golden ho` finds "Golden Hour" and
"golden-hour", not "Goldenhour"; `den hour` finds nothing). A trigram index needs three
characters, so a shorter search matches tags only. Search text is data: quotes, `%`, `_`
and backslashes match themselves. Both backends agree on each of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.gallery.plan_sizes import remembered
from core.gallery.taxonomy import normalize_tags
from core.models import Asset, AssetTag

MAX_SEARCH_CHARS = 100
MIN_TITLE_CHARS = 3  # a trigram index cannot serve fewer
MIN_PREFIX_CHARS = 3  # a shorter last word, as a prefix, would expand to most of the words
_ASCII_WORDS = re.compile(r"[a-z0-9]+( [a-z0-9]+)+")
FEW_MATCHES = 2000
"""A search matching at most this many pictures is read by id; a commoner one is tested row
by row while a sort index is walked (core.gallery.search.matching)."""
UNMODELLED_NAMES = frozenset(
    {
        "asset_search",
        "asset_search_config",
        "asset_search_data",
        "asset_search_docsize",
        "asset_search_idx",
        "asset_words",
        "asset_words_config",
        "asset_words_data",
        "asset_words_docsize",
        "asset_words_idx",
        "ix_asset_title_trgm",
        "ix_asset_title_words",
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


def word_phrase(needle: str) -> list[str] | None:
    """The words of a search of several ASCII words, or None for any other search (one
    word, punctuation, non-ASCII letters), which is matched as a substring."""
    if not _ASCII_WORDS.fullmatch(needle):
        return None
    return needle.split(" ")


def _contains(dialect: str, needle: str) -> Any:
    """The test of a row's title containing `needle` (lowercased as the indexes fold it)."""
    if dialect == "sqlite":
        return sa.func.instr(sa.func.py_lower(Asset.title), needle) > 0
    return sa.func.lower(Asset.title).like(_like_pattern(needle), escape="\\")


def _prefix(words: list[str]) -> bool:
    """Whether the last word is looked up as the start of a word (at least 3 letters)."""
    return len(words[-1]) >= MIN_PREFIX_CHARS


def _phrase_condition(dialect: str, words: list[str]) -> Any:
    """The word index's test of a title holding `words` as a phrase (in order, side by
    side, punctuation between them ignored), the last one as a prefix (3 letters or more)."""
    if dialect == "sqlite":
        query = '"' + " ".join(words) + '"' + ("*" if _prefix(words) else "")
        return sa.text("asset_words MATCH :words").bindparams(words=query)
    query = " <-> ".join([*words[:-1], words[-1] + (":*" if _prefix(words) else "")])
    simple: Any = sa.literal_column("'simple'::regconfig")
    # the expression of the GIN index ix_asset_title_words, over a column (not text), so a
    # bounded walk (core.gallery.listing) can test the rows of a subquery with it
    return sa.func.to_tsvector(simple, Asset.title).op("@@", is_comparison=True)(
        sa.func.to_tsquery(simple, sa.literal(query, sa.String()))
    )


def _title_ids(dialect: str, text: str) -> Any:
    """SELECT of the ids of assets whose title matches `text` (at least 3 characters): its
    words as a phrase through the word index, else the text as a substring through the
    trigram index."""
    words = word_phrase(text)
    if dialect == "sqlite":
        table = "asset_search" if words is None else "asset_words"
        if words is None:
            match = sa.text("asset_search MATCH :phrase").bindparams(
                phrase='"' + text.replace('"', '""') + '"'
            )
        else:
            match = _phrase_condition(dialect, words)
        return sa.select(sa.column("rowid")).select_from(sa.table(table)).where(match)
    if words is None:
        return select(col(Asset.id)).where(_contains(dialect, text))
    return select(col(Asset.id)).where(_phrase_condition(dialect, words))


def _sources(dialect: str, needle: str) -> list[Any]:
    """SELECTs of the ids matching `needle`: titles (3 characters or more) and the tag."""
    sources = []
    if len(needle) >= MIN_TITLE_CHARS:
        sources.append(_title_ids(dialect, needle))
    tags = normalize_tags([needle])
    if tags:
        sources.append(select(col(AssetTag.asset_id)).where(col(AssetTag.tag) == tags[0]))
    return sources


def _few_ids(session: Session, sources: list[Any]) -> list[int] | None:
    """Every id the sources match when they are at most FEW_MATCHES, else None (a common
    search: reading its matches would cost more than walking the sort index).

    Each source's ids (up to FEW_MATCHES + 1) are fetched in one batch: fetched row by row
    into Python, 2,001 ids cost ~10 ms."""
    ids: set[int] = set()
    for source in sources:
        ids.update(session.execute(source.limit(FEW_MATCHES + 1)).scalars().all())
        if len(ids) > FEW_MATCHES:
            return None
    return sorted(ids)


def row_condition(dialect: str, needle: str) -> Any:
    """The search `needle` (cleaned, not empty) as a test of each row, for the database to
    apply while it walks a sort index: the same matches as `matching`."""
    tests = []
    words = word_phrase(needle)
    if words is not None and dialect == "sqlite":
        tests.append(
            sa.exists()
            .select_from(sa.table("asset_words"))
            .where(_phrase_condition(dialect, words), sa.column("rowid") == Asset.id)
        )
    elif words is not None:
        tests.append(_phrase_condition(dialect, words))
    elif len(needle) >= MIN_TITLE_CHARS:
        tests.append(_contains(dialect, needle))
    tags = normalize_tags([needle])
    if tags:
        tests.append(
            sa.exists().where(col(AssetTag.asset_id) == Asset.id, col(AssetTag.tag) == tags[0])
        )
    return sa.or_(sa.false(), *tests)


@dataclass(frozen=True)
class Match:
    """A search's WHERE condition, and whether it is a list of ids to look up (`by_id`)
    rather than a test to apply while a sort index is walked."""

    condition: Any
    by_id: bool


def matching(session: Session, text: str) -> Match | None:
    """The WHERE condition of assets matching the search `text`, or None for an empty search.

    A match is a title containing the cleaned text (several ASCII words: holding them as a
    phrase, the last as the start of a word; see the module), or a tag equal to it written
    as a tag (`Golden hour` finds the tag `golden-hour`). A page never reads every match: a search
    with at most FEW_MATCHES matches is their ids (read from the title indexes, then
    fetched by id), a commoner one a test of each row while the sort index is walked, which
    meets a page of matches within a few thousand rows (the same matches: titles lowercased
    as the indexes fold them, the tag compared as it is stored). That a search is common is
    remembered a minute (core.gallery.plan_sizes); a rare one's ids are read every time.
    """
    needle = clean(text)
    if not needle:
        return None
    dialect = session.get_bind().dialect.name
    sources = _sources(dialect, needle)
    if not sources:
        return Match(sa.false(), by_id=True)
    read: list[list[int] | None] = []

    def size() -> int:
        read.append(_few_ids(session, sources))
        return FEW_MATCHES + 1 if read[0] is None else len(read[0])

    common = remembered(session, ("search", dialect, needle, FEW_MATCHES), size) > FEW_MATCHES
    few = None if common else (read[0] if read else _few_ids(session, sources))
    if few is None:
        return Match(row_condition(dialect, needle), by_id=False)
    return Match(col(Asset.id).in_(few) if few else sa.false(), by_id=True)


def is_modelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name` hook: False for the search objects the models do not own."""
    return name not in UNMODELLED_NAMES

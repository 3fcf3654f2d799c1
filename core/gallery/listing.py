"""What a viewer may see and how the gallery lists it: access, keyset-paged listings, featured.

A viewer sees their own assets, and other people's only when public, screened as passed and
not hidden. Anything else answers NotFound, the same as an id that does not exist.
Paging is by keyset (sort key, id), never OFFSET, so pages stay fast and stable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.accounts.inputs import require_plain
from core.errors import NotFound, ValidationFailed
from core.gallery.plan_sizes import remembered
from core.gallery.search import (
    FEW_MATCHES,
    Match,
    clean,
    matching,
    row_condition,
    word_phrase,
)
from core.models import Asset, AssetTag, MediaKind, Screening, Visibility

Sort = Literal["newest", "top_rated", "trending", "most_viewed"]


@dataclass(frozen=True)
class Page:
    """One page of assets and the cursor of the next (None at the end)."""

    items: list[Asset]
    next_cursor: str | None


_NOT_FLAGGED = col(Asset.screening) != Screening.FLAGGED
_PUBLICLY_VISIBLE = sa.and_(
    col(Asset.visibility) == Visibility.PUBLIC,
    col(Asset.screening) == Screening.PASSED,
    col(Asset.hidden).is_(False),
)
"""Built once: SQL expressions are immutable, and building this one cost ~0.1-0.2 ms of a
page's ~0.6 ms in Python (10,000 pictures)."""


def publicly_visible() -> Any:
    """The SQL condition of an asset anyone may see: public, screened as passed, not hidden."""
    return _PUBLICLY_VISIBLE


def sort_column(sort: Sort) -> Any:
    """The stored, indexed column a sort orders by (then id, both descending)."""
    columns = {
        "newest": Asset.created_at,
        "top_rated": Asset.rating_score,
        "trending": Asset.trending_score,
        "most_viewed": Asset.view_count,
    }
    return col(columns[sort])


def encode_cursor(sort: Sort, key: Any, asset_id: int) -> str:
    """The cursor of the page after the row (key, asset_id) in `sort` order."""
    value = key.isoformat() if isinstance(key, datetime) else key
    return base64.urlsafe_b64encode(json.dumps([sort, value, asset_id]).encode()).decode()


def _is_int64(value: object) -> bool:
    return isinstance(value, int) and -(2**63) <= value < 2**63


def _decode(cursor: str, sort: Sort) -> tuple[Any, int]:
    """(sort key, id) of the last row a cursor saw; ValidationFailed if it is not one of ours
    for this sort (garbled, edited, or from another sort)."""
    invalid = ValidationFailed("That page link is not valid any more.")
    try:
        cursor_sort, value, asset_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        key = datetime.fromisoformat(value) if sort == "newest" else value
    except (ValueError, TypeError) as exc:
        raise invalid from exc
    key_ok = key.tzinfo is not None if isinstance(key, datetime) else _is_int64(key)
    if cursor_sort != sort or not key_ok or not _is_int64(asset_id) or asset_id < 0:
        raise invalid
    return key, asset_id


def filtered(
    session: Session,
    *,
    viewer_id: int | None,
    scope: Literal["mine", "public"] = "public",
    category: str | Sequence[str] | None = None,
    tag: str | Sequence[str] | None = None,
    kind: MediaKind | None = None,
    search: str | None = None,
    muse_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Any:
    """SELECT of the assets the viewer may see in `scope` that pass every given filter,
    unordered (`list_assets` pages it; the benchmark finds deep cursors with it).

    A category or tag may be given with its old names (`Taxonomy.category_names`): a picture
    carrying any of them matches."""
    require_plain({"search": search})
    matches = [
        found
        for found in (
            matching(session, search) if search else None,
            _tagged(session, tag) if tag else None,
        )
        if found is not None
    ]
    query = select(Asset).where(*(found.condition for found in matches))
    broad = any(found.by_id for found in matches)
    if scope == "mine":
        # flagged outputs are held back from their owner until reviewed
        mine = col(Asset.owner_id) == (viewer_id or -1)
        query = query.where(_broad(session, mine) if broad else mine, _NOT_FLAGGED)
    else:
        query = query.where(_broad(session, publicly_visible()) if broad else publicly_visible())
    if category:
        query = query.where(_one_of(col(Asset.category), category))
    if kind is not None:
        query = query.where(col(Asset.kind) == kind)
    if muse_id is not None:
        query = query.where(Asset.muse_id == muse_id)
    if since is not None:
        query = query.where(col(Asset.created_at) >= since)
    if until is not None:
        query = query.where(col(Asset.created_at) <= until)
    return query.execution_options(**{LOOKED_UP: True}) if broad else query


LOOKED_UP = "aik_looked_up"
"""The execution option `filtered` sets on a query whose rows are a few looked up by id (a
rare search or tag), then sorted, rather than read walking a sort index (`rows_after`)."""


MANY_TAGGED = 20_000
"""Past this many pictures under a tag, a page walks the sort index testing each row's tags
(a page of them is met within 25 × rows / MANY_TAGGED rows); up to it, the tag's pictures
are read from its index first (core.gallery.listing._tagged)."""


def _tagged(session: Session, names: str | Sequence[str]) -> Match:
    """The condition of a picture carrying one of the tag `names`, in the form the tag's size
    calls for (counted on the tag index, up to MANY_TAGGED + 1 entries, and remembered a
    minute: core.gallery.plan_sizes):

    - at most FEW_MATCHES pictures: their ids, looked up (then sorted: a few thousand rows);
    - up to MANY_TAGGED: the sort index walked, each row's id tested against the tag's ids,
      read once. On SQLite the test is written `+id IN (…)` so it is not taken as a lookup,
      and since it needs only the index it runs before the row is read: walking 2,000 rows
      to fill a page of a tag on 1 in 80 pictures cost 25–35 ms reading each row for the
      correlated EXISTS and 3–5 ms this way (200,000 rows);
    - more: the walk tests each row with EXISTS (a page within 25 × rows / MANY_TAGGED rows).

    `by_id` says whether it is the first form (ids to look up)."""
    tagged = select(col(AssetTag.asset_id)).where(_one_of(col(AssetTag.tag), names))
    entries = select(sa.literal(1)).where(_one_of(col(AssetTag.tag), names))
    counted = select(sa.func.count()).select_from(entries.limit(MANY_TAGGED + 1).subquery())
    key = ("tag", (names,) if isinstance(names, str) else tuple(names), MANY_TAGGED)
    size = remembered(session, key, lambda: session.exec(counted).one())
    if size > MANY_TAGGED:
        exists = sa.exists().where(col(AssetTag.asset_id) == Asset.id)
        return Match(exists.where(_one_of(col(AssetTag.tag), names)), by_id=False)
    if size <= FEW_MATCHES:
        return Match(col(Asset.id).in_(tagged), by_id=True)
    if session.get_bind().dialect.name != "sqlite":
        return Match(col(Asset.id).in_(tagged), by_id=False)
    return Match((col(Asset.id) + 0).in_(tagged), by_id=False)


def _broad(session: Session, scope: Any) -> Any:
    """The scope's terms marked on SQLite as true of most rows (`likely`), for a search read
    as a few ids: without statistics SQLite takes an equality on an index for ~10 rows, so
    it walked the whole scope in sort order rather than look the ids up (190 ms for 38
    matches at 200,000 rows; 0.2 ms looked up)."""
    if session.get_bind().dialect.name != "sqlite":
        return scope
    terms = scope.clauses if isinstance(scope, sa.BooleanClauseList) else [scope]
    return sa.and_(*(sa.func.likely(term) for term in terms))


def _one_of(column: Any, names: str | Sequence[str]) -> Any:
    """`column = name` for one name (an index range in key order), IN for several."""
    names = (names,) if isinstance(names, str) else tuple(names)
    return column == names[0] if len(names) == 1 else column.in_(names)


def list_assets(
    session: Session,
    *,
    sort: Sort = "newest",
    cursor: str | None = None,
    limit: int = 24,
    **filters: Any,
) -> Page:
    """One page of the gallery, newest/top-rated/trending/most-viewed first, ties by id;
    `filters` are those of `filtered` (viewer_id, scope, category, tag, kind, search, …).

    Each sort reads a stored key (`engagement.refresh_trending` keeps trending's,
    `engagement.rate` top-rated's) and the cursor holds the last (key, id), so a page at any
    depth reads ranges of an index (visibility, key, id) in public, (owner_id, key, id) in
    "mine": as fast deep as shallow. Search reads the title index (core/gallery/search.py).
    """
    key = sort_column(sort)
    after = _decode(cursor, sort) if cursor else None
    rows = _window_page(session, key, after, limit + 1, filters)
    if rows is None:
        by_key = filtered(session, **filters).order_by(key.desc(), col(Asset.id).desc())
        if after is None:
            rows = list(session.exec(by_key.limit(limit + 1)).all())
        else:
            rows = rows_after(session, by_key, key, *after, limit + 1)
    items = rows[:limit]
    if len(rows) <= limit:
        return Page(items, None)
    last = items[-1]
    return Page(items, encode_cursor(sort, getattr(last, key.key), last.id or 0))


WALK_WINDOW = 2_000
"""How many rows of the sort order PostgreSQL looks for a page of a one-word search in first."""


def _window_page(
    session: Session, key: Any, after: tuple[Any, int] | None, count: int, filters: Any
) -> list[Asset] | None:
    """On PostgreSQL, `count` rows of a search's page found among the next WALK_WINDOW rows
    of the sort order (the cursor's, else the first), each tested as the walk meets it; None
    when the window holds fewer (a rare search, or the end: `filtered` then decides).

    Deciding first whether a search is rare reads its title index, and a GIN index reads
    whole posting lists: a word in one title of ten cost 9 ms of trigram lists at 200,000
    rows (~45 ms at a million) before the page's 0.3 ms walk. Within the window the page is
    the same as the full walk's: its first `count` matches in sort order.

    Only a search read through the trigram index walks first: a phrase's words have short
    lists in the word index, and testing a phrase row by row computes each title's
    tsvector (a rare phrase spent 19 ms in a window of 2,000 rows, 2 ms in the index).

    The window is a subquery of (key, id) only, joined back to `asset` by id, and the search
    tests `asset` itself: a window of every column, its test rewritten onto the subquery's
    columns (ClauseAdapter), spent ~1.5 ms of Python a page building and proxying 28
    columns, where the join back costs PostgreSQL one primary-key probe per walked row."""
    search = filters.get("search")
    if not search or session.get_bind().dialect.name == "sqlite":
        return None
    require_plain({"search": search})
    needle = clean(search)
    if not needle or word_phrase(needle) is not None:
        return None
    ordered = filtered(session, **{**filters, "search": None}).with_only_columns(
        key.label("walked_key"), col(Asset.id).label("walked_id")
    )
    if after is not None:
        ordered = ordered.where(_row_value_before(key, col(Asset.id), *after))
    window = (
        ordered.order_by(key.desc(), col(Asset.id).desc()).limit(WALK_WINDOW).subquery("walked")
    )
    page = (
        select(Asset)
        .join(window, col(Asset.id) == window.c.walked_id)
        .where(row_condition(session.get_bind().dialect.name, needle))
        .order_by(window.c.walked_key.desc(), window.c.walked_id.desc())
        .limit(count)
    )
    rows = list(session.exec(page).all())
    return rows if len(rows) == count else None


def _row_value_before(key: Any, ids: Any, after: Any, after_id: int) -> Any:
    """`(key, id) < (after, after_id)`: on PostgreSQL one range of an index (…, key, id)."""
    bound = sa.tuple_(sa.literal(after, key.type), sa.literal(after_id, sa.Integer()))
    return sa.tuple_(key, ids) < bound


def rows_after(
    session: Session,
    by_key: Any,
    key: Any,
    after: Any,
    after_id: int,
    count: int,
    id_column: Any = None,
) -> list[Any]:
    """Up to `count` rows of `by_key` (ordered by key, id descending) after (after, after_id);
    the id is `Asset.id` unless `id_column` names another (a board's `BoardItem.asset_id`).

    Never `key < a OR (key = a AND id < b)`, which is read from the top of the index. On
    PostgreSQL the row value `(key, id) < (a, b)` is one range of the index (visibility, key,
    id). SQLite (3.40) ranges that row value over `key` only, id being the rowid, then steps
    over every row tied on the key (most trending scores are tied at 0); there it is two
    ranges read in order: the rest of the cursor's key (`key = a AND id < b`), then the
    lower keys (`key < a`). An id that is not the rowid (a board's asset_id) SQLite ranges
    with the key, and rows looked up by id (`LOOKED_UP`) are sorted, not read from a range:
    for both, one statement, the row value, on both backends (a second, mostly empty
    statement doubled the Python of a deep page: 1.0 ms first, 2.4 ms deep at 1M).
    """
    ids = col(Asset.id) if id_column is None else id_column
    looked_up = by_key.get_execution_options().get(LOOKED_UP, False)
    if looked_up or not _is_rowid(ids) or session.get_bind().dialect.name != "sqlite":
        return list(
            session.exec(by_key.where(_row_value_before(key, ids, after, after_id)).limit(count))
        )
    tied = list(session.exec(by_key.where(key == after, ids < after_id).limit(count)).all())
    if len(tied) == count:
        return tied
    lower = session.exec(by_key.where(key < after).limit(count - len(tied))).all()
    return tied + list(lower)


def _is_rowid(column: Any) -> bool:
    """Whether `column` is its table's one integer primary key, which SQLite keeps as the
    rowid (and leaves out of a row value's index range)."""
    keys = list(column.table.primary_key.columns)
    return keys == [column] and isinstance(column.type, sa.Integer)


def featured(session: Session, *, limit: int = 4) -> list[Asset]:
    """Assets an admin featured, newest first (public ones only)."""
    return list(
        session.exec(
            select(Asset)
            .where(col(Asset.featured).is_(True), publicly_visible())
            .order_by(col(Asset.created_at).desc())
            .limit(limit)
        ).all()
    )


def get_asset(session: Session, *, viewer_id: int | None, asset_id: int) -> Asset:
    """The asset if the viewer may see it; NotFound otherwise."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        raise NotFound("No such picture.")
    visible = (
        asset.visibility is Visibility.PUBLIC
        and asset.screening is Screening.PASSED
        and not asset.hidden
    )
    if (asset.owner_id != viewer_id or asset.screening is Screening.FLAGGED) and not visible:
        raise NotFound("No such picture.")
    return asset


def owned_asset(session: Session, *, owner_id: int, asset_id: int) -> Asset:
    """The asset if `owner_id` owns it; NotFound otherwise (the same as a missing id)."""
    asset = session.get(Asset, asset_id)
    if asset is None or asset.owner_id != owner_id:
        raise NotFound("No such picture.")
    return asset

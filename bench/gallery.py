"""P4: gallery and audit page queries at 100,000 and 1,000,000 rows.

Keyset paging promises that a page deep in the list costs what the first page costs. Seeds
public assets (with their stored top-rated scores), recent views and audit entries with bulk
inserts (no files: the queries never read media), fills the trending scores with the
scheduler's own `refresh_trending`, then times the first page and a page ~90 % deep for each
gallery sort and for the audit log, plain and filtered.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bench.common import Figure, percentile, row, scratch_engine, timed_ms
from core.db import read_scope
from core.gallery import engagement, listing
from core.models import Asset, AssetView, AuditEntry, User
from core.models.gallery import bayesian_rating_milli
from core.ops import audit_view

SORTS: tuple[listing.Sort, ...] = ("newest", "top_rated", "trending", "most_viewed")
CHUNK_ROWS = 20_000
PAGE_SIZE = 24
DEEP_FRACTION = 0.9
NOISE_FLOOR_MS = 1.0  # below a millisecond the timer and Python dominate any ratio
DEPTH_RATIO_GOAL = 2.0
PAGE_P95_GOAL_MS = 200.0  # one query of a page render that should stay under a second
SEED_ROWS_PER_S_GOAL = 10_000.0
ASSET_COLUMNS = (
    "owner_id",
    "sha256",
    "kind",
    "mime",
    "width",
    "height",
    "size_bytes",
    "title",
    "visibility",
    "screening",
    "hidden",
    "featured",
    "view_count",
    "rating_sum",
    "rating_count",
    "rating_score",
    "created_at",
)
AUDIT_COLUMNS = ("at", "actor", "action", "outcome", "details", "prev_hash", "hash")


@dataclass(frozen=True)
class PageTiming:
    """First-page and deep-page samples of one query."""

    query: str
    depth: int
    first_ms: list[float]
    deep_ms: list[float]
    deep_items: int

    @property
    def depth_ratio(self) -> float:
        """Deep-page p95 over first-page p95, each floored at `NOISE_FLOOR_MS`."""
        deep = max(percentile(self.deep_ms, 95), NOISE_FLOOR_MS)
        return deep / max(percentile(self.first_ms, 95), NOISE_FLOOR_MS)


@dataclass(frozen=True)
class PagesResult:
    """P4 at one size: seed time and every query's timings."""

    rows: int
    seed_s: float
    pages: list[PageTiming]

    def figures(self) -> list[Figure]:
        """Per query the depth ratio; the slowest page p95; seeding speed."""
        label = f"{self.rows:,} rows"
        figures = [
            Figure(
                "P4",
                f"{page.query}: deep/first page p95 at {label}",
                page.depth_ratio,
                "x",
                "<=",
                DEPTH_RATIO_GOAL,
            )
            for page in self.pages
        ]
        slowest = max(
            self.pages, key=lambda p: max(percentile(p.first_ms, 95), percentile(p.deep_ms, 95))
        )
        figures.append(
            Figure(
                "P4",
                f"slowest page p95 at {label} ({slowest.query})",
                max(percentile(slowest.first_ms, 95), percentile(slowest.deep_ms, 95)),
                "ms",
                "<=",
                PAGE_P95_GOAL_MS,
            )
        )
        figures.append(
            Figure(
                "P4",
                f"seeding speed at {label} ({self.seed_s:.0f} s)",
                (2 * self.rows) / self.seed_s if self.seed_s else 0.0,
                "rows/s",
                ">=",
                SEED_ROWS_PER_S_GOAL,
            )
        )
        return figures


def _insert_chunks(
    connection: sa.Connection,
    model: Any,
    columns: Sequence[str],
    count: int,
    make: Callable[[int], tuple[Any, ...]],
) -> None:
    """Insert `count` rows of `columns`, built by `make(index)`, in executemany chunks.

    Plain tuples go straight to the driver; each value is first converted by its column
    type's own bind processor, so datetimes, enums and JSON are stored exactly as the ORM
    stores them, without the ORM's per-row cost.
    """
    table = model.__table__
    dialect = connection.dialect
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    converting = [(i, p) for i, p in enumerate(processors) if p is not None]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    for offset in range(0, count, CHUNK_ROWS):
        batch = []
        for index in range(offset, min(count, offset + CHUNK_ROWS)):
            values = list(make(index))
            for position, process in converting:
                values[position] = process(values[position])
            batch.append(tuple(values))
        connection.exec_driver_sql(sql, batch)


def _ratings(rng: random.Random) -> tuple[int, int, int]:
    """A random (rating_sum, rating_count, rating_score): up to 10 votes of 1-5 stars."""
    votes = int(rng.random() * 11)
    rating_sum = sum(1 + int(rng.random() * 5) for _ in range(votes))
    return rating_sum, votes, bayesian_rating_milli(rating_sum, votes)


def seed(engine: sa.Engine, count: int, *, now: datetime) -> int:
    """Insert `count` public assets, `count` audit entries and `count // 10` recent views.

    Returns the viewer's id. One transaction, chunked executemany inserts.
    """
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    second = timedelta(seconds=1)
    with engine.begin() as connection:
        owner = connection.execute(
            sa.insert(User).returning(col(User.id)),
            {
                "username": "bench",
                "email": "bench@example.test",
                "display_name": "Bench",
                "password_hash": "x",
                "role": "user",
                "disabled": False,
                "created_at": start,
            },
        ).scalar_one()
        _insert_chunks(
            connection,
            Asset,
            ASSET_COLUMNS,
            count,
            lambda i: (
                owner,
                f"{i:064x}",
                "image",
                "image/png",
                512,
                512,
                1000,
                f"picture {i}",
                "public",
                "passed",
                False,
                False,
                int(rng.random() * 501),
                *_ratings(rng),
                start + i * second,
            ),
        )
        _insert_chunks(
            connection,
            AssetView,
            ("asset_id", "at"),
            count // 10,
            lambda _i: (1 + int(rng.random() * count), now - rng.random() * 7 * 86_400 * second),
        )
        _insert_chunks(
            connection,
            AuditEntry,
            AUDIT_COLUMNS,
            count,
            lambda i: (
                start + i * second,
                f"user:{i % 50}",
                "pool.size" if i % 3 else "login.failed",
                "ok",
                {},
                "0" * 64,
                f"{i:064x}",
            ),
        )
    return int(owner)


def _deep_cursor(session: Session, sort: listing.Sort, depth: int) -> str:
    """The cursor a visitor holds after paging `depth` rows into `sort`.

    Built from the row at that position with the query module's own sort column and cursor
    encoding, rather than by loading `depth` rows through the page function.
    """
    key = listing.sort_column(sort)
    query = (
        select(key, col(Asset.id))
        .where(listing.publicly_visible())
        .order_by(key.desc(), col(Asset.id).desc())
        .offset(depth - 1)
        .limit(1)
    )
    value, asset_id = session.exec(query).one()
    return listing.encode_cursor(sort, value, asset_id)


def _gallery_timings(session: Session, viewer: int, count: int, repeats: int) -> list[PageTiming]:
    depth = max(1, int(count * DEEP_FRACTION))
    timings = []
    for sort in SORTS:
        cursor = _deep_cursor(session, sort, depth)

        def first(sort: listing.Sort = sort) -> listing.Page:
            return listing.list_assets(session, viewer_id=viewer, sort=sort, limit=PAGE_SIZE)

        def deep(sort: listing.Sort = sort, cursor: str = cursor) -> listing.Page:
            return listing.list_assets(
                session, viewer_id=viewer, sort=sort, cursor=cursor, limit=PAGE_SIZE
            )

        timings.append(
            PageTiming(
                query=f"gallery {sort}",
                depth=depth,
                first_ms=timed_ms(first, repeats),
                deep_ms=timed_ms(deep, repeats),
                deep_items=len(deep().items),
            )
        )
    return timings


def _audit_timings(session: Session, count: int, repeats: int) -> list[PageTiming]:
    cursor = max(2, count - int(count * DEEP_FRACTION))  # ids run newest first
    timings = []
    for name, filter in (
        ("audit log", audit_view.AuditFilter()),
        ("audit log, action filter", audit_view.AuditFilter(action="login.failed")),
    ):
        timings.append(
            PageTiming(
                query=name,
                depth=count - cursor,
                first_ms=timed_ms(
                    lambda f=filter: audit_view.page_audit(session, filter=f), repeats
                ),
                deep_ms=timed_ms(
                    lambda f=filter: audit_view.page_audit(session, filter=f, cursor=cursor),
                    repeats,
                ),
                deep_items=len(audit_view.page_audit(session, filter=filter, cursor=cursor).rows),
            )
        )
    return timings


def _refresh_trending_ms(engine: sa.Engine, now: datetime) -> tuple[float, float]:
    """The scheduler's trending refresh: (first fill, a steady-state rerun) in milliseconds."""
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        engagement.refresh_trending(engine, now=now)
        timings.append((time.perf_counter() - started) * 1000)
    return timings[0], timings[1]


def page_queries(count: int = 100_000, repeats: int = 30) -> PagesResult:
    """P4 at `count` rows: seed, fill trending, then time first and deep pages of every query."""
    now = datetime.now(UTC)
    with scratch_engine() as engine:
        started = time.perf_counter()
        viewer = seed(engine, count, now=now)
        seed_s = time.perf_counter() - started
        fill_ms, rerun_ms = _refresh_trending_ms(engine, now)
        with read_scope(engine) as session:
            pages = _gallery_timings(session, viewer, count, repeats)
            pages += _audit_timings(session, count, repeats)
    result = PagesResult(rows=count, seed_s=seed_s, pages=pages)
    print(
        f"\n== P4 gallery and audit pages at {count:,} rows (SQLite; seeded in {seed_s:.1f} s; "
        f"trending refresh {fill_ms:.0f} ms to fill, {rerun_ms:.0f} ms steady) =="
    )
    widths = (36, 12, 12, 12, 12, 8)
    print(
        row(
            "query (deep page at row)",
            "first p50",
            "first p95",
            "deep p50",
            "deep p95",
            "ratio",
            widths=widths,
        )
    )
    for page in pages:
        print(
            row(
                f"{page.query} ({page.depth:,})",
                f"{percentile(page.first_ms, 50):.1f} ms",
                f"{percentile(page.first_ms, 95):.1f} ms",
                f"{percentile(page.deep_ms, 50):.1f} ms",
                f"{percentile(page.deep_ms, 95):.1f} ms",
                f"{page.depth_ratio:.1f}x",
                widths=widths,
            )
        )
    return result

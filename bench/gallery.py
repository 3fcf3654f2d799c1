"""P4: gallery and audit page queries at 100,000 rows: keyset pages stay as fast deep as shallow.

Seeds rows with bulk inserts (no files: the queries never read media), then times the first
page and a page ~90 % deep for each sort, and audit-log pages.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench.common import percentile, row, scratch_engine
from core.db import read_scope
from core.gallery import queries
from core.models import Asset, AuditEntry, User
from core.ops import audit_view

SORTS = ("newest", "top_rated", "trending", "most_viewed")


def seed(engine: sa.Engine, count: int) -> int:
    """Insert `count` public assets (and as many audit rows); return the viewer's id."""
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(User),
            [
                {
                    "username": "bench",
                    "email": "bench@example.test",
                    "display_name": "Bench",
                    "password_hash": "x",
                    "role": "user",
                    "failed_logins": 0,
                    "disabled": False,
                    "created_at": start,
                }
            ],
        )
        owner = connection.execute(sa.select(User.id)).scalar_one()
        for offset in range(0, count, 5000):
            batch = min(5000, count - offset)
            connection.execute(
                sa.insert(Asset),
                [
                    {
                        "owner_id": owner,
                        "sha256": f"{offset + i:064x}",
                        "kind": "image",
                        "mime": "image/png",
                        "width": 512,
                        "height": 512,
                        "size_bytes": 1000,
                        "title": f"picture {offset + i}",
                        "visibility": "public",
                        "screening": "passed",
                        "hidden": False,
                        "featured": False,
                        "view_count": rng.randint(0, 500),
                        "rating_sum": rng.randint(0, 50),
                        "rating_count": rng.randint(0, 10),
                        "created_at": start + timedelta(seconds=offset + i),
                    }
                    for i in range(batch)
                ],
            )
            connection.execute(
                sa.insert(AuditEntry),
                [
                    {
                        "at": start + timedelta(seconds=offset + i),
                        "actor": f"user:{i % 50}",
                        "action": "pool.size" if i % 3 else "login.failed",
                        "outcome": "ok",
                        "details": {},
                        "prev_hash": "0" * 64,
                        "hash": f"{offset + i:064x}",
                    }
                    for i in range(batch)
                ],
            )
    return int(owner)


def _time(fn, repeats: int = 15) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main(count: int = 100_000) -> None:
    """Print p50/p95 milliseconds for first and deep pages."""
    engine = scratch_engine()
    viewer = seed(engine, count)
    print(f"\n== P4 gallery and audit pages at {count:,} rows (SQLite; goal: deep ≈ first) ==")
    print(row("query", "first p50", "first p95", "deep p50", "deep p95"))
    with read_scope(engine) as session:
        for sort in SORTS:
            cursor, depth = None, 0
            first = _time(
                lambda s=sort: queries.list_assets(
                    session, viewer_id=viewer, scope="public", sort=s, limit=24
                )
            )
            page = queries.list_assets(
                session,
                viewer_id=viewer,
                scope="public",
                sort=sort,
                limit=max(24, int(count * 0.9)),
            )
            cursor, depth = page.next_cursor, len(page.items)
            deep = _time(
                lambda s=sort, c=cursor: queries.list_assets(
                    session, viewer_id=viewer, scope="public", sort=s, cursor=c, limit=24
                )
            )
            print(
                row(
                    f"gallery {sort} (page at {depth:,})",
                    f"{percentile(first, 50):.1f} ms",
                    f"{percentile(first, 95):.1f} ms",
                    f"{percentile(deep, 50):.1f} ms",
                    f"{percentile(deep, 95):.1f} ms",
                )
            )
        flt = audit_view.AuditFilter()
        first = _time(lambda: audit_view.page_audit(session, filter=flt))
        deep = _time(lambda: audit_view.page_audit(session, filter=flt, cursor=count // 10))
        print(
            row(
                "audit log page",
                f"{percentile(first, 50):.1f} ms",
                f"{percentile(first, 95):.1f} ms",
                f"{percentile(deep, 50):.1f} ms",
                f"{percentile(deep, 95):.1f} ms",
            )
        )

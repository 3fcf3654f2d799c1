"""Gallery sorts: stored sort keys, keyset cursors on every sort, the trending refresh, and
the index plans that keep a deep page as fast as the first."""

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest
import sqlalchemy as sa

from core.db import downgrade, make_engine, migrate, read_scope, session_scope
from core.errors import ValidationFailed
from core.gallery import engagement, listing
from core.models import Asset, AssetView, Screening, Visibility
from core.models.gallery import bayesian_rating_milli
from testing.factories import make_asset, make_user
from testing.statements import statements_sent
from tests.conftest import PG_URL_ENV

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
SORTS: tuple[listing.Sort, ...] = get_args(listing.Sort)
# What each sort promises to order by (then id), both descending: the specification the
# expected orders below are computed from.
SORT_KEYS = {
    "newest": "created_at",
    "top_rated": "rating_score",
    "trending": "trending_score",
    "most_viewed": "view_count",
}


def page_through(engine, viewer_id, *, limit, **filters):
    """Every id the gallery lists, following next_cursor page by page."""
    seen, cursor = [], None
    while True:
        with read_scope(engine) as session:
            page = listing.list_assets(
                session, viewer_id=viewer_id, cursor=cursor, limit=limit, **filters
            )
        assert len(page.items) <= limit
        seen += [asset.id for asset in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def expected_order(engine, sort, *, where):
    """Ids of the assets matching `where`, by the sort's stored key then id, descending."""
    with read_scope(engine) as session:
        assets = [a for a in session.exec(sa.select(Asset)).scalars() if where(a)]
    return [a.id for a in sorted(assets, key=lambda a: (getattr(a, SORT_KEYS[sort]), a.id))][::-1]


def public(asset):
    return (
        asset.visibility is Visibility.PUBLIC
        and asset.screening is Screening.PASSED
        and not asset.hidden
    )


def refresh(engine, now):
    return engagement.refresh_trending(engine, now=now)


@pytest.fixture
def mixed_gallery(engine):
    """Two owners' assets with ties on every sort key, some not public, ratings and views."""
    owner, other = make_user(engine), make_user(engine)
    fans = [make_user(engine) for _ in range(3)]
    hidden_kinds = [
        {"visibility": Visibility.PRIVATE},
        {"visibility": Visibility.UNLISTED},
        {"hidden": True},
        {"screening": Screening.PENDING},
    ]
    assets = []
    for n in range(14):
        fields = hidden_kinds[n // 2] if n % 2 and n // 2 < len(hidden_kinds) else {}
        assets.append(
            make_asset(
                engine,
                owner if n % 3 else other,
                created_at=NOW + timedelta(minutes=n // 3),
                view_count=n % 3,
                **fields,
            )
        )
    with session_scope(engine) as session:
        for n, asset in enumerate(assets[:12]):
            for fan in fans[: n % 3] if public(asset) else ():  # several share a vote pattern
                engagement.rate(session, asset_id=asset.id, user_id=fan.id, stars=4, now=NOW)
        for n, asset in enumerate(assets):
            for _ in range(n % 4):
                session.add(AssetView(asset_id=asset.id, at=NOW - timedelta(days=n % 5)))
    refresh(engine, NOW)
    return owner, other


@pytest.mark.parametrize("limit", [1, 4])
@pytest.mark.parametrize("sort", SORTS)
def test_paging_visits_every_visible_asset_once_in_sort_order_through_ties(
    engine, mixed_gallery, sort, limit
):
    owner, other = mixed_gallery
    public_ids = page_through(engine, other.id, limit=limit, scope="public", sort=sort)
    assert public_ids == expected_order(engine, sort, where=public)
    assert len(public_ids) == len(set(public_ids))
    mine = page_through(engine, owner.id, limit=limit, scope="mine", sort=sort)
    assert mine == expected_order(engine, sort, where=lambda a: a.owner_id == owner.id)


def test_every_sort_key_has_ties_in_the_fixture(engine, mixed_gallery):
    with read_scope(engine) as session:
        assets = session.exec(sa.select(Asset)).scalars().all()
    for key in SORT_KEYS.values():
        values = [getattr(a, key) for a in assets if public(a)]
        assert len(set(values)) < len(values), key


def test_a_rating_reorders_top_rated_at_once(engine):
    owner, fans = make_user(engine), [make_user(engine) for _ in range(2)]
    older, newer = make_asset(engine, owner), make_asset(engine, owner)

    def top_rated():
        return page_through(engine, owner.id, limit=1, sort="top_rated")

    def rate(asset, fan, stars):
        with session_scope(engine) as session:
            engagement.rate(session, asset_id=asset.id, user_id=fan.id, stars=stars, now=NOW)

    assert top_rated() == [newer.id, older.id]  # unrated: a tie, broken by id
    rate(older, fans[0], 5)
    assert top_rated() == [older.id, newer.id]
    rate(newer, fans[0], 5)
    rate(newer, fans[1], 5)
    assert top_rated() == [newer.id, older.id]
    rate(newer, fans[0], 1)  # a changed vote moves it back down
    assert top_rated() == [older.id, newer.id]
    with read_scope(engine) as session:
        for asset in (older, newer):
            stored = session.get(Asset, asset.id)
            assert stored.rating_score == bayesian_rating_milli(
                stored.rating_sum, stored.rating_count
            )


def test_one_low_vote_ranks_below_an_unrated_asset():
    assert bayesian_rating_milli(1, 1) < bayesian_rating_milli(0, 0) < bayesian_rating_milli(5, 1)
    assert bayesian_rating_milli(5, 1) < bayesian_rating_milli(4 * 50, 50)


def test_trending_decays_as_days_pass_and_zeroes_assets_whose_activity_left_the_window(
    engine, fake_clock
):
    owner, fan = make_user(engine), make_user(engine)
    viewed, rated, quiet = (make_asset(engine, owner) for _ in range(3))
    start = fake_clock.now()
    with session_scope(engine) as session:
        for _ in range(3):
            engagement.record_view(session, asset_id=viewed.id, viewer_id=None, now=start)
        engagement.rate(session, asset_id=rated.id, user_id=fan.id, stars=4, now=start)

    def scores():
        with read_scope(engine) as session:
            return [session.get(Asset, a.id).trending_score for a in (viewed, rated, quiet)]

    def trending():
        return page_through(engine, owner.id, limit=2, sort="trending")

    assert scores() == [0, 0, 0]  # views and ratings count at the next refresh
    assert refresh(engine, fake_clock.now()) == 2
    assert scores() == [3 * 4, 4 * 2, 0]  # views x4 within a day, ratings x2 per star
    assert trending() == [viewed.id, rated.id, quiet.id]
    assert refresh(engine, fake_clock.now()) == 0  # nothing changed: nothing written
    fake_clock.advance(timedelta(days=2).total_seconds())
    assert refresh(engine, fake_clock.now()) == 1
    assert scores() == [3 * 2, 4 * 2, 0]  # x2 within three days
    assert trending() == [rated.id, viewed.id, quiet.id]
    fake_clock.advance(timedelta(days=2).total_seconds())
    refresh(engine, fake_clock.now())
    assert scores() == [3 * 1, 4 * 2, 0]  # x1 for the rest of the week
    fake_clock.advance(timedelta(days=3, seconds=1).total_seconds())
    assert refresh(engine, fake_clock.now()) == 2
    assert scores() == [0, 0, 0]
    assert trending() == [quiet.id, rated.id, viewed.id]  # all tied again: by id


def cursor_of(payload):
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("newest", "garbage!"),
        ("newest", cursor_of({"sort": "newest"})),
        ("newest", cursor_of(["newest", "2026-11-24T12:00:00", 5])),  # no time zone
        ("newest", cursor_of(["newest", "yesterday", 5])),
        ("newest", cursor_of(["top_rated", 3000, 5])),  # another sort's cursor
        ("top_rated", cursor_of(["top_rated", "3000", 5])),
        ("top_rated", cursor_of(["top_rated", 3000])),
        ("most_viewed", cursor_of(["most_viewed", 10**30, 5])),  # beyond any integer column
        ("most_viewed", cursor_of(["most_viewed", 3, -1])),
        ("trending", cursor_of(["trending", 3, 5.5])),
    ],
)
def test_a_forged_or_garbled_cursor_is_a_clear_error(engine, sort, cursor):
    owner = make_user(engine)
    make_asset(engine, owner)
    with read_scope(engine) as session, pytest.raises(ValidationFailed, match="page link"):
        listing.list_assets(session, viewer_id=owner.id, sort=sort, cursor=cursor)


def deep_page_statements(engine, sort):
    """The SQL (with parameters) list_assets runs for a page after a cursor, in order."""
    owner = make_user(engine)
    for _ in range(3):
        make_asset(engine, owner)
    with read_scope(engine) as session:
        cursor = listing.list_assets(session, viewer_id=owner.id, sort=sort, limit=1).next_cursor
    with statements_sent(engine) as sent, read_scope(engine) as session:
        deep = listing.list_assets(session, viewer_id=owner.id, sort=sort, cursor=cursor)
    assert len(deep.items) == 2
    return [(s, p) for s, p in sent if "FROM asset" in s]


@pytest.mark.parametrize("sort", SORTS)
def test_a_deep_public_page_reads_index_ranges_only(engine, sort):
    statements = deep_page_statements(engine, sort)
    key = SORT_KEYS[sort]
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            plans = [
                [step for *_ids, step in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p)]
                for s, p in statements
            ]
        # The rest of the cursor's key, then the lower keys: each one range of one index.
        assert [plan[-1].rsplit(" (", 1)[1] for plan in plans] == [
            f"visibility=? AND {key}=? AND id<?)",
            f"visibility=? AND {key}<?)",
        ], plans
        for plan in plans:
            assert len(plan) == 1 and plan[0].startswith("SEARCH asset USING INDEX"), plans
        return
    [(statement, parameters)] = statements
    with engine.begin() as connection:  # tiny tables: make the planner show what it can use
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        plan = [row for (row,) in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)]
    text = "\n".join(plan)
    assert "Index Scan Backward using ix_asset_visibility_" in text, text
    assert f"(ROW({key}, id) < ROW(" in text and "Sort" not in text, text


def test_the_migration_backfills_top_rated_scores_from_existing_ratings(
    db_backend, tmp_path, request
):
    if db_backend == "postgresql":
        request.getfixturevalue("pg_engine")  # migrated; we take it back one step and up again
        url = os.environ[PG_URL_ENV]
    else:
        url = f"sqlite:///{tmp_path / 'backfill.db'}"
    migrate(url)
    downgrade(url, "0004")
    engine = make_engine(url)
    try:
        user = sa.table(
            "user",
            *(sa.column(name) for name in ("id", "username", "email", "display_name")),
            *(sa.column(name) for name in ("password_hash", "role", "failed_logins")),
            sa.column("disabled"),
            sa.column("created_at", sa.DateTime(timezone=True)),
        )
        asset = sa.table(
            "asset",
            *(sa.column(name) for name in ("id", "owner_id", "sha256", "kind", "mime", "title")),
            *(sa.column(name) for name in ("width", "height", "size_bytes", "visibility")),
            *(sa.column(name) for name in ("screening", "hidden", "featured", "view_count")),
            sa.column("rating_sum"),
            sa.column("rating_count"),
            sa.column("created_at", sa.DateTime(timezone=True)),
        )
        votes = {1: (0, 0), 2: (9, 2), 3: (4, 4)}
        with engine.begin() as connection:
            connection.execute(
                sa.insert(user),
                {
                    "id": 1,
                    "username": "u",
                    "email": "u@example.test",
                    "display_name": "U",
                    "password_hash": "x",
                    "role": "user",
                    "failed_logins": 0,
                    "disabled": False,
                    "created_at": NOW,
                },
            )
            connection.execute(
                sa.insert(asset),
                [
                    {
                        "id": asset_id,
                        "owner_id": 1,
                        "sha256": f"{asset_id:064x}",
                        "kind": "image",
                        "mime": "image/png",
                        "title": "",
                        "width": 1,
                        "height": 1,
                        "size_bytes": 1,
                        "visibility": "public",
                        "screening": "passed",
                        "hidden": False,
                        "featured": False,
                        "view_count": 0,
                        "rating_sum": rating_sum,
                        "rating_count": rating_count,
                        "created_at": NOW,
                    }
                    for asset_id, (rating_sum, rating_count) in votes.items()
                ],
            )
        migrate(url)
        with engine.connect() as connection:
            stored = dict(connection.execute(sa.text("SELECT id, rating_score FROM asset")).all())
        assert stored == {
            asset_id: bayesian_rating_milli(rating_sum, rating_count)
            for asset_id, (rating_sum, rating_count) in votes.items()
        }
    finally:
        engine.dispose()

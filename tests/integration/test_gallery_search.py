"""Gallery search through the title index (SQLite FTS5, PostgreSQL pg_trgm) and tags, and
the trending refresh written in batches."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.gallery import engagement, library, listing, search
from core.models import Asset, AssetTag, AssetView
from testing.factories import make_asset, make_user

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def found(engine, viewer, text, scope="mine"):
    with read_scope(engine) as session:
        page = listing.list_assets(
            session, viewer_id=viewer.id, scope=scope, search=text, limit=100
        )
    return {asset.id for asset in page.items}


@pytest.fixture
def titled(engine):
    owner = make_user(engine)
    titles = ["Golden Hour on the Beach", "neon city at night", "100% cotton_dress", 'say "hi"']
    return owner, [make_asset(engine, owner, title=title) for title in titles]


def test_search_finds_substrings_of_titles_case_insensitively(engine, titled):
    owner, (beach, city, _cotton, _quote) = titled
    assert found(engine, owner, "golden") == {beach.id}
    assert found(engine, owner, "  CITY   at ") == {city.id}
    assert found(engine, owner, "den hou") == {beach.id}  # inside words too
    assert found(engine, owner, "forest") == set()


def test_search_text_is_data_not_syntax(engine, titled):
    owner, (_beach, _city, cotton, quote) = titled
    assert found(engine, owner, "100%") == {cotton.id}
    assert found(engine, owner, "n_d") == {cotton.id}
    assert found(engine, owner, "%") == set()  # not a wildcard
    assert found(engine, owner, '"hi"') == {quote.id}
    for control in ("hi\x00 OR 1", "\x00\x01"):  # refused at the boundary, with a message
        with pytest.raises(ValidationFailed, match="control characters"):
            found(engine, owner, control)


def test_search_follows_renames_and_deletions(engine, titled, tmp_path):
    owner, (beach, *_rest) = titled
    with session_scope(engine) as session:
        library.set_title_tags(
            session, owner_id=owner.id, asset_id=beach.id, title="Sunset", tags=[], category=None
        )
    assert found(engine, owner, "golden") == set()
    assert found(engine, owner, "sunset") == {beach.id}
    with session_scope(engine) as session:
        library.delete_asset(session, owner_id=owner.id, asset_id=beach.id, media_root=tmp_path)
    assert found(engine, owner, "sunset") == set()


def test_short_searches_and_tag_words_match_tags(engine, titled):
    owner, (beach, city, *_rest) = titled
    with session_scope(engine) as session:
        session.add(AssetTag(asset_id=city.id, tag="golden-hour"))
        session.add(AssetTag(asset_id=beach.id, tag="3d"))
    assert found(engine, owner, "Golden hour") == {beach.id, city.id}
    assert found(engine, owner, "3d") == {beach.id}  # too short for titles, still a tag
    assert found(engine, owner, "on") == set()


def test_search_respects_scope(engine, titled):
    owner, (beach, *_rest) = titled
    stranger = make_user(engine)
    private = make_asset(engine, stranger, title="Golden private", visibility="private")
    assert found(engine, stranger, "golden", scope="public") == {beach.id}
    assert found(engine, stranger, "golden") == {private.id}


def test_the_title_index_exists_at_head(engine):
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = set(
                connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"
                ).scalars()
            )
            assert {"asset_search", "asset_search_insert", "asset_search_update"} <= names
        else:
            assert "ix_asset_title_trgm" in {
                i["name"] for i in sa.inspect(connection).get_indexes("asset")
            }
    assert "asset_search_data" in search.UNMODELLED_NAMES


def test_trending_is_written_in_batches_and_matches_a_single_pass(engine, monkeypatch):
    owner = make_user(engine)
    assets = [make_asset(engine, owner) for _ in range(7)]
    with session_scope(engine) as session:
        for n, asset in enumerate(assets):
            for day in range(n):
                session.add(AssetView(asset_id=asset.id, at=NOW - timedelta(days=day)))
    statements = []
    commits = []

    def seen(_connection, _cursor, statement, *_rest):
        statements.append(statement)

    def committed(_connection):
        commits.append(len(statements))

    sa.event.listen(engine, "before_cursor_execute", seen)
    sa.event.listen(engine, "commit", committed)
    monkeypatch.setattr(engagement, "TRENDING_BATCH_ROWS", 2)
    try:
        assert engagement.refresh_trending(engine, now=NOW) == 6
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
        sa.event.remove(engine, "commit", committed)
    updates = [s for s in statements if s.lstrip().upper().startswith(("WITH", "UPDATE"))]
    assert len(updates) == 3  # 6 changes in batches of 2: one statement each
    assert len(commits) == 3  # each batch its own write transaction (the reading commits none)
    with read_scope(engine) as session:
        scores = dict(session.execute(sa.select(Asset.id, Asset.trending_score)).all())
    assert [scores[a.id] for a in assets] == [0, 4, 8, 10, 12, 13, 14]  # x4, x4, x2, x2, x1…
    assert engagement.refresh_trending(engine, now=NOW) == 0


def test_a_renamed_category_or_tag_still_finds_the_pictures_filed_under_the_old_name(engine):
    owner = make_user(engine)
    old = make_asset(engine, owner, category="artistic")
    new = make_asset(engine, owner, category="painting")
    with session_scope(engine) as session:
        session.add(AssetTag(asset_id=old.id, tag="neon"))
        session.add(AssetTag(asset_id=new.id, tag="neon-light"))
    with read_scope(engine) as session:
        for filters in (
            {"category": ("painting", "artistic")},
            {"tag": ("neon-light", "neon")},
        ):
            page = listing.list_assets(session, viewer_id=owner.id, scope="public", **filters)
            assert {a.id for a in page.items} == {old.id, new.id}
        page = listing.list_assets(session, viewer_id=owner.id, scope="public", tag="neon")
        assert [a.id for a in page.items] == [old.id]

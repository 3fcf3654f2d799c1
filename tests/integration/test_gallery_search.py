"""Gallery search through the title index (SQLite FTS5, PostgreSQL pg_trgm) and tags, and
the trending refresh written in batches."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from core.db import read_scope, session_scope
from core.errors import ValidationFailed
from core.gallery import engagement, library, listing, search
from core.models import Asset, AssetTag, AssetView
from testing.factories import make_asset, make_user
from testing.statements import statements_sent

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
    assert found(engine, owner, "den") == {beach.id}  # one word: inside words too
    assert found(engine, owner, "forest") == set()


@pytest.fixture
def worded(engine):
    owner = make_user(engine)
    titles = {
        "hour": "Golden Hour on the Beach",
        "hyphen": "golden-hour portrait",
        "joined": "goldenhour skyline",
        "later": "hour of the golden light",
        "cyrillic": "Ночной город у реки",
        "cjk": "東京の夜景 3d",
        "accent": "Café Noir at 9pm",
    }
    return owner, {key: make_asset(engine, owner, title=t).id for key, t in titles.items()}


def test_several_words_match_as_a_phrase_the_last_as_the_start_of_a_word(engine, worded):
    owner, ids = worded
    assert found(engine, owner, "golden hour") == {ids["hour"], ids["hyphen"]}
    assert found(engine, owner, "GOLDEN   hou") == {ids["hour"], ids["hyphen"]}  # prefix
    assert found(engine, owner, "golden hour on") == {ids["hour"]}
    assert found(engine, owner, "den hour") == set()  # the first word is a whole word
    assert found(engine, owner, "golden hou beach") == set()  # so is every one but the last
    assert found(engine, owner, "hour golden") == set()  # in order
    assert found(engine, owner, "golden h") == set()  # a short last word is a whole word
    assert found(engine, owner, "at 9pm") == {ids["accent"]}  # digits are word letters


def test_one_word_punctuation_and_other_scripts_match_as_substrings(engine, worded):
    owner, ids = worded
    assert found(engine, owner, "enhou") == {ids["joined"]}
    assert found(engine, owner, "n-hour") == {ids["hyphen"]}  # punctuation: a substring
    assert found(engine, owner, "ГОРОД") == {ids["cyrillic"]}  # Unicode case folding
    assert found(engine, owner, "ной город у") == {ids["cyrillic"]}  # non-ASCII: substring
    assert found(engine, owner, "の夜景") == {ids["cjk"]}
    assert found(engine, owner, "café noir") == {ids["accent"]}
    assert found(engine, owner, "cafe") == set()  # accents are kept


@pytest.mark.parametrize(
    "text", ["golden hour", "golden ho", "den", "ГОРОД", "n-hour", "at 9pm", "hour golden"]
)
def test_walking_the_sort_index_finds_what_the_indexes_find(engine, worded, monkeypatch, text):
    """A commoner search is tested row by row (FEW_MATCHES); that test agrees with the
    index lookups on every kind of search."""
    owner, _ids = worded
    by_index = found(engine, owner, text)
    monkeypatch.setattr(search, "FEW_MATCHES", 0)
    assert found(engine, owner, text) == by_index


def _statements(engine, owner, text, scope="mine"):
    with statements_sent(engine) as statements:
        found(engine, owner, text, scope=scope)
    # PostgreSQL first looks for a full page in a bounded walk (listing._window_page), which
    # reads no title index; the statements kept are those that may
    return [(s, p) for s, p in statements if ("title" in s or "MATCH" in s) and "walked" not in s]


def test_a_phrase_reads_the_word_index_and_one_word_the_trigram_index(engine, worded):
    owner, _ids = worded
    for text, index, other in (
        ("golden hour", "asset_words", "asset_search"),
        ("enhou", "asset_search", "asset_words"),
    ):
        [(statement, parameters), *_rest] = _statements(engine, owner, text)
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                plan = " | ".join(
                    row[-1]
                    for row in connection.exec_driver_sql(
                        f"EXPLAIN QUERY PLAN {statement}", parameters
                    )
                )
                assert f"SCAN {index} VIRTUAL TABLE INDEX 0:M" in plan, plan
                assert other not in plan and "SCAN asset " not in plan, plan
                continue
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # tiny tables
            plan = "\n".join(
                row for (row,) in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            )
            wanted = "ix_asset_title_words" if index == "asset_words" else "ix_asset_title_trgm"
            assert f"Bitmap Index Scan on {wanted}" in plan and "Seq Scan" not in plan, plan


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
    assert found(engine, owner, "golden hour") == set()  # the word index follows too
    assert found(engine, owner, "sunset") == {beach.id}
    with session_scope(engine) as session:
        library.set_title_tags(
            session,
            owner_id=owner.id,
            asset_id=beach.id,
            title="Sunset Bay",
            tags=[],
            category=None,
        )
    assert found(engine, owner, "sunset bay") == {beach.id}
    with session_scope(engine) as session:
        library.delete_asset(session, owner_id=owner.id, asset_id=beach.id, media=tmp_path)
    assert found(engine, owner, "sunset") == set()
    assert found(engine, owner, "sunset bay") == set()


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
            for table in ("asset_search", "asset_words"):
                assert {table, f"{table}_insert", f"{table}_update", f"{table}_delete"} <= names
        else:
            assert {"ix_asset_title_trgm", "ix_asset_title_words"} <= {
                i["name"] for i in sa.inspect(connection).get_indexes("asset")
            }
            options = dict(
                connection.exec_driver_sql(
                    "SELECT relname, reloptions FROM pg_class"
                    " WHERE relname IN ('ix_asset_title_trgm', 'ix_asset_title_words')"
                ).all()
            )
            # no pending list for every search to read through (migration search22_01)
            assert options == {name: ["fastupdate=off"] for name in options} and len(options) == 2
    assert {"asset_search_data", "asset_words_data"} <= search.UNMODELLED_NAMES


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


def test_views_counted_while_trending_is_written_are_all_kept_and_scored_next_run(
    engine, monkeypatch
):
    owner = make_user(engine)
    assets = [make_asset(engine, owner) for _ in range(30)]
    with session_scope(engine) as session:
        for asset in assets:
            session.add(AssetView(asset_id=asset.id, at=NOW - timedelta(hours=1)))
    monkeypatch.setattr(engagement, "TRENDING_BATCH_ROWS", 3)  # ten write transactions
    writing = threading.Event()
    write_scores = engagement._write_scores

    def first_batch_lets_the_viewer_in(session, scores):
        writing.set()
        write_scores(session, scores)

    monkeypatch.setattr(engagement, "_write_scores", first_batch_lets_the_viewer_in)
    counted = []

    def viewer():  # anonymous views: never deduplicated
        writing.wait(10)
        for n in range(90):
            with session_scope(engine) as session:
                engagement.record_view(session, asset_id=assets[n % 30].id, viewer_id=None, now=NOW)
            counted.append(n)

    thread = threading.Thread(target=viewer)
    thread.start()
    assert engagement.refresh_trending(engine, now=NOW) == 30
    thread.join()
    assert len(counted) == 90
    engagement.refresh_trending(engine, now=NOW)
    with read_scope(engine) as session:
        rows = session.execute(sa.select(Asset.view_count, Asset.trending_score)).all()
    assert set(rows) == {(3, 4 * 4)}  # no view lost; each of the 4 within a day weighs 4


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


def test_a_common_search_walks_the_sort_index_and_finds_the_same_pictures(engine):
    """Past FEW_MATCHES matches SQLite tests each row instead of reading every match: the
    pages found are those the index finds, case and tags included."""
    owner = make_user(engine)
    common = search.FEW_MATCHES + 5
    with session_scope(engine) as session:
        for n in range(common):
            title = f"ECLAIR harbour {n}" if n % 2 else f"Eclair field {n}"
            session.add(
                Asset(
                    owner_id=owner.id,
                    sha256=f"{n:064x}",
                    kind="image",
                    mime="image/png",
                    width=8,
                    height=8,
                    size_bytes=1,
                    title=title,
                    visibility="public",
                    screening="passed",
                    created_at=NOW + timedelta(seconds=n),
                )
            )
        tagged = Asset(
            owner_id=owner.id,
            sha256="f" * 64,
            kind="image",
            mime="image/png",
            width=8,
            height=8,
            size_bytes=1,
            title="untitled",
            visibility="public",
            screening="passed",
            created_at=NOW - timedelta(days=1),
        )
        session.add(tagged)
        session.flush()
        session.add(AssetTag(asset_id=tagged.id, tag="eclair"))
    seen, cursor = [], None
    with read_scope(engine) as session:
        while True:
            page = listing.list_assets(
                session, viewer_id=None, scope="public", search="eclair", cursor=cursor, limit=500
            )
            seen += [a.id for a in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        total = session.execute(sa.select(sa.func.count()).select_from(Asset)).scalar_one()
    assert len(seen) == len(set(seen)) == common + 1 == total
    assert seen[-1] == tagged.id  # oldest last: the walk kept the sort order


def test_a_search_with_few_matches_looks_its_ids_up_instead_of_walking_the_sort_index(engine):
    """On SQLite, without statistics, the scope's equality was taken for ~10 rows and the
    whole scope walked in sort order (PostgreSQL plans this from its statistics)."""
    owner = make_user(engine)
    matches = {make_asset(engine, owner, title=f"violet harbour {n}").id for n in range(15)}
    for n in range(5):
        make_asset(engine, owner, title=f"other {n}")
    for scope in ("mine", "public"):
        assert found(engine, owner, "violet harbour", scope=scope) == matches
        if engine.dialect.name != "sqlite":
            continue
        page = [
            (s, p) for s, p in _statements(engine, owner, "violet harbour", scope) if " IN (" in s
        ]
        [(statement, parameters)] = page
        with engine.connect() as connection:
            plan = [
                row[-1]
                for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
        assert plan[0] == "SEARCH asset USING INTEGER PRIMARY KEY (rowid=?)", plan


def test_a_deep_page_of_a_rare_search_is_one_statement_in_sort_order(engine):
    owner = make_user(engine)
    rare = [make_asset(engine, owner, title=f"zuzu ropa {n}", view_count=n % 2) for n in range(5)]
    make_asset(engine, owner, title="something else")
    expected = sorted(rare, key=lambda asset: (asset.view_count, asset.id), reverse=True)
    statements = []

    def capture(_conn, _cursor, statement, _parameters, _context, _many):
        if statement.startswith("SELECT asset.id, asset.owner_id"):  # a page's rows
            statements.append(statement)

    with read_scope(engine) as session:
        first = listing.list_assets(
            session,
            viewer_id=owner.id,
            scope="mine",
            sort="most_viewed",
            search="zuzu ropa",
            limit=2,
        )
        sa.event.listen(engine, "before_cursor_execute", capture)
        try:
            deep = listing.list_assets(
                session,
                viewer_id=owner.id,
                scope="mine",
                sort="most_viewed",
                search="zuzu ropa",
                cursor=first.next_cursor,
                limit=2,
            )
        finally:
            sa.event.remove(engine, "before_cursor_execute", capture)
    assert [a.id for a in first.items + deep.items] == [a.id for a in expected[:4]]
    assert len(statements) == 1

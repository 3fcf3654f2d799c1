"""P4's seed lays rows in with indexes and search triggers off, then builds them: the database
it leaves has every index and trigger a migrated one has, and its search tables are full."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from bench import gallery_seed
from bench.__main__ import main
from bench.common import scratch_engine, scratch_postgres
from core.db import read_scope
from core.gallery import listing
from tests.conftest import PG_URL_ENV

SCHEMA_OBJECTS = {
    "sqlite": "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
    " AND sql IS NOT NULL ORDER BY name",
    "postgresql": "SELECT 'index', indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = current_schema() ORDER BY indexname",
}


def _objects(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(SCHEMA_OBJECTS[engine.dialect.name]).all()
    return [(kind, name, sql) for kind, name, sql in rows]


def _seeded_like_a_migrated_database(engine: sa.Engine) -> None:
    before = _objects(engine)
    owner = gallery_seed.seed(engine, 500)
    assert _objects(engine) == before  # every index and trigger is back, as it was
    with read_scope(engine) as session:
        for search in (gallery_seed.COMMON_WORD, gallery_seed.RARE_PHRASE.split()[0]):
            page = listing.list_assets(
                session, viewer_id=owner, scope="mine", search=search, limit=500
            )
            assert page.items and all(search in asset.title for asset in page.items)
        common = listing.list_assets(
            session, viewer_id=owner, scope="mine", search=gallery_seed.COMMON_WORD, limit=500
        )
        assert len(common.items) >= 50  # one title in ten starts with it
        tagged = listing.list_assets(session, viewer_id=owner, tag=gallery_seed.TAGS[3], limit=500)
        assert len(tagged.items) == 6  # picture i has tag (7 i mod 80): i = 69, 149, … 469


def test_the_sqlite_seed_rebuilds_indexes_triggers_and_search_tables():
    with scratch_engine() as engine:
        _seeded_like_a_migrated_database(engine)
        with engine.begin() as connection:  # the triggers work again after the seed
            connection.exec_driver_sql("UPDATE asset SET title = 'zzqq yyxx' WHERE id = 1")
            found = connection.exec_driver_sql(
                "SELECT rowid FROM asset_words WHERE asset_words MATCH 'zzqq'"
            ).scalars()
            assert list(found) == [1]


@pytest.mark.skipif(not os.environ.get(PG_URL_ENV), reason=f"{PG_URL_ENV} not set")
def test_the_postgres_seed_rebuilds_indexes():
    with scratch_postgres(os.environ[PG_URL_ENV]) as engine:
        _seeded_like_a_migrated_database(engine)


@pytest.mark.parametrize("given", ["x", "0", ","])
def test_cli_rejects_page_rows_that_are_not_sizes(given):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "P4", "--page-rows", given])
    assert exit_info.value.code == 2

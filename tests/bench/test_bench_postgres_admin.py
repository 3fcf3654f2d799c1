"""The benchmarks' PostgreSQL scratch databases: made and dropped even when the database named
in the URL is gone (a test run drops its own before the bench's exit hooks run)."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from bench import common

PG_URL = os.environ.get("TEST_DATABASE_URL")

pytestmark = pytest.mark.skipif(PG_URL is None, reason="needs TEST_DATABASE_URL (PostgreSQL)")


def _exists(name: str) -> bool:
    assert PG_URL is not None
    engine = sa.create_engine(common.normalize_url(PG_URL))
    try:
        with engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            return found.first() is not None
    finally:
        engine.dispose()


def test_a_database_is_made_and_dropped_through_a_url_whose_database_is_gone():
    assert PG_URL is not None
    gone = sa.make_url(PG_URL).set(database=f"aikings_gone_{uuid.uuid4().hex[:8]}")
    url = gone.render_as_string(hide_password=False)
    name = f"aikings_admin_{uuid.uuid4().hex[:8]}"
    common._admin(url, f'CREATE DATABASE "{name}"')
    assert _exists(name)
    common._admin(url, f'DROP DATABASE "{name}" WITH (FORCE)')
    assert not _exists(name)

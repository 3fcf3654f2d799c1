"""Shared fixtures: databases on SQLite and (when TEST_DATABASE_URL is set) PostgreSQL, clocks.

Every test that asks for `engine` runs once per configured backend. SQLite databases are
copies of one file migrated by Alembic at session start; the PostgreSQL database is migrated
once and emptied after each test. Under pytest-xdist every worker gets a PostgreSQL database
of its own (`<database>_<worker>`, created at start and dropped at the end), so workers never
empty each other's tables.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from core.config import get_settings
from core.db import make_engine, migrate
from core.models import metadata
from testing.main_module import kept_main_module
from testing.sims import ComfySim, VastSim, comfy_sim, vast_sim
from tests.s3 import S3Server, s3_server

pytest_plugins = ("pytester",)

PG_URL_ENV = "TEST_DATABASE_URL"
_BASE_PG_URL = pytest.StashKey[str]()


def _worker_database(base_url: str, worker: str) -> str:
    """The URL of `worker`'s own database beside `base_url`'s (same server and user)."""
    return str(sa.make_url(base_url).set(database=f"{sa.make_url(base_url).database}_{worker}"))


def _admin_execute(base_url: str, statement: str) -> None:
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(statement))
    finally:
        admin.dispose()


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base_url = os.environ.get(PG_URL_ENV)
    if not worker or not base_url:
        return
    url = _worker_database(base_url, worker)
    name = sa.make_url(url).database
    _admin_execute(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(base_url, f'CREATE DATABASE "{name}"')
    config.stash[_BASE_PG_URL] = base_url
    os.environ[PG_URL_ENV] = url  # every fixture, test and child process now uses it


def pytest_unconfigure(config: pytest.Config) -> None:
    base_url = config.stash.get(_BASE_PG_URL, None)
    if base_url is None:
        return
    name = sa.make_url(os.environ[PG_URL_ENV]).database
    os.environ[PG_URL_ENV] = base_url
    _admin_execute(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backends() -> list[str]:
    """The database backends this run tests: SQLite always, PostgreSQL when configured."""
    return ["sqlite", "postgresql"] if os.environ.get(PG_URL_ENV) else ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        chosen = backends()
        if metafunc.definition.get_closest_marker("postgresql_only"):
            chosen = [backend for backend in chosen if backend == "postgresql"]
        metafunc.parametrize("db_backend", chosen)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's .env or data directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'settings.db'}")
    monkeypatch.setenv("MEDIA_ROOT", str(tmp_path / "media"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _root_logger_kept() -> Iterator[None]:
    """The root logger's handlers and level, put back after each test. A program's `main()`
    run in a test (`core.logs.configure_logging`) points the root logger at the test's
    stderr, which capsys closes when the test ends; every later record in that process
    (aiosmtpd's threads log each connection) would then print "Logging error"."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """A page run by AppTest stays `__main__` after the test: a later test's spawned worker
    (bench.common.parallel_map) would import that page and die (`testing.main_module`)."""
    with kept_main_module():
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run; tests get copies."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """The CI PostgreSQL database, migrated to head once per run."""
    url = os.environ[PG_URL_ENV]
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        # Tests empty tables with DELETE (see _empty_postgres); a vacuum would then let new
        # rows fill the freed slots, and a read without ORDER BY stop returning them in the
        # order written, as it does on SQLite and after a TRUNCATE.
        for table in metadata.sorted_tables:
            no_vacuum = f'ALTER TABLE "{table.name}" SET (autovacuum_enabled = false)'
            connection.execute(sa.text(no_vacuum))
    yield engine
    engine.dispose()


def _empty_postgres(engine: Engine) -> None:
    """Delete every row and restart every sequence, as `TRUNCATE … RESTART IDENTITY` would:
    a DELETE of the few small tables a test wrote takes milliseconds, where a TRUNCATE of
    every table gives each new files (0.5–2 s a test, on CI the largest share of the run)."""
    tables = metadata.sorted_tables
    written = " UNION ALL ".join(
        f"SELECT '{table.name}' WHERE EXISTS (SELECT FROM \"{table.name}\")" for table in tables
    )
    with engine.begin() as connection:
        used = set(connection.execute(sa.text(written)).scalars())
        for table in reversed(tables):  # children before the rows they refer to
            if table.name in used:
                connection.execute(table.delete())
        connection.execute(sa.text("SELECT setval(seqrelid, seqstart, false) FROM pg_sequence"))


def sqlite_copy(template: Path, directory: Path) -> str:
    """Copy the migrated template into `directory`; return its URL."""
    path = directory / "test.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh, migrated SQLite database file (WAL, BEGIN IMMEDIATE: the production setup)."""
    engine = make_engine(sqlite_copy(sqlite_template, tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def engine(db_backend: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh, migrated database on the backend this parametrized test runs against."""
    if db_backend == "sqlite":
        yield request.getfixturevalue("sqlite_engine")
        return
    engine = request.getfixturevalue("pg_engine")
    _empty_postgres(engine)
    yield engine
    _empty_postgres(engine)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that only moves when the test says so."""
    return FakeClock()


@pytest.fixture
def vast() -> Iterator[VastSim]:
    """A Vast.ai simulator on loopback (instances run at once; pass timings for boot times)."""
    with vast_sim() as sim:
        yield sim


@pytest.fixture
def comfy() -> Iterator[ComfySim]:
    """A healthy ComfyUI simulator on loopback with every default model installed."""
    with comfy_sim() as sim:
        yield sim


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """An S3-protocol server (moto) on loopback, shared by the run; tests take fresh buckets."""
    with s3_server() as server:
        yield server


@pytest.fixture
def s3_env(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Settings point at a fresh bucket on the loopback S3 server (MEDIA_STORE=s3)."""
    for name, value in s3.settings_env(s3.new_bucket()).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return s3

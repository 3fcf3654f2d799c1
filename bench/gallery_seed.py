"""P4's databases: a gallery of one owner's public pictures with titles, tags, categories,
boards, views and audit entries, seeded once per size and kept in a cache for the next run.

Rows go in by bulk insert (COPY on PostgreSQL), no files: the queries never read media. As an
operator's import would, the seed lays the rows in with the tables' secondary indexes and
the search triggers off and builds each index (and SQLite's FTS5 tables) in one pass after:
index by index and row by row through the search triggers, a million pictures took over
40 minutes. The seeded database is the cache (named by the schema's migration head, so a
new migration seeds afresh); each run works on a copy (a file copy on SQLite, a
`CREATE DATABASE … TEMPLATE` on PostgreSQL), since the trending refresh writes to it.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlmodel import col

from bench.common import scratch_engine
from core.db import alembic_config, make_engine, migrate, normalize_url
from core.models import Asset, AssetTag, AssetView, AuditEntry, Board, BoardItem, User
from core.models.gallery import bayesian_rating_milli

SEED_VERSION = 5  # bump when the seeded rows change (a schema change renames the cache itself)
CACHE_MIN_ROWS = 100_000  # smaller galleries are seeded afresh, in a scratch database
CACHE_DIR = Path.home() / ".cache" / "aikings-bench"
CHUNK_ROWS = 20_000
SEEDED_AT = datetime(2026, 12, 1, tzinfo=UTC)  # views fall in the week before it
CATEGORIES = tuple(f"category-{n:02d}" for n in range(50))
TAGS = tuple(f"tag-{n:02d}" for n in range(80))
BOARDS = 100
"""The owner's boards; picture i is on board i % 100 (10,000 a board at a million)."""
_SYLLABLES = ("ka", "lo", "mi", "ren", "su", "ta", "vel", "zo", "ni", "qua")
WORDS = tuple(
    "".join(parts) for parts in itertools.islice(itertools.product(_SYLLABLES, repeat=3), 500)
)
COMMON_WORD = WORDS[0]
"""In one title of ten (a popular word); every other word in about one title of 250."""
RARE_PHRASE = f"{WORDS[1]} {WORDS[2]}"
"""Two words side by side: a few titles per 100,000."""
ASSET_COLUMNS = (
    "owner_id",
    "sha256",
    "kind",
    "mime",
    "width",
    "height",
    "size_bytes",
    "title",
    "category",
    "visibility",
    "screening",
    "hidden",
    "featured",
    "view_count",
    "rating_sum",
    "rating_count",
    "rating_score",
    "trending_score",
    "created_at",
)
AUDIT_COLUMNS = ("at", "actor", "action", "outcome", "details", "prev_hash", "hash")
SEEDED_TABLES = ("asset", "assettag", "boarditem", "assetview", "auditentry")
"""The tables `seed` fills by the hundred thousand: their indexes are built after the rows."""
_FTS5_CONTENT = re.compile(r"USING fts5\(.*content\s*=\s*'(\w+)'", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Seeded:
    """A database to time: its engine, the owner of every picture, and the seed's cost
    (0 when it came from the cache)."""

    engine: sa.Engine
    owner_id: int
    seed_s: float


def _title(rng: random.Random, index: int) -> str:
    first = COMMON_WORD if index % 10 == 0 else rng.choice(WORDS)
    return f"{first} {rng.choice(WORDS)} {rng.choice(WORDS)}"


def _ratings(rng: random.Random) -> tuple[int, int, int]:
    """A random (rating_sum, rating_count, rating_score): up to 10 votes of 1-5 stars."""
    votes = int(rng.random() * 11)
    rating_sum = sum(1 + int(rng.random() * 5) for _ in range(votes))
    return rating_sum, votes, bayesian_rating_milli(rating_sum, votes)


def _insert_chunks(
    connection: sa.Connection,
    model: Any,
    columns: Sequence[str],
    count: int,
    make: Callable[[int], tuple[Any, ...]],
) -> None:
    """Insert `count` rows of `columns`, built by `make(index)`, in chunks.

    Each value is first converted by its column type's own bind processor, so datetimes,
    enums and JSON are stored exactly as the ORM stores them, without the ORM's per-row
    cost; SQLite takes executemany, PostgreSQL COPY.
    """
    table = model.__table__
    dialect = connection.dialect
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    converting = [(i, p) for i, p in enumerate(processors) if p is not None]
    names = ", ".join(f'"{name}"' for name in columns)
    for offset in range(0, count, CHUNK_ROWS):
        batch = []
        for index in range(offset, min(count, offset + CHUNK_ROWS)):
            values = list(make(index))
            for position, process in converting:
                values[position] = process(values[position])
            batch.append(tuple(values))
        if dialect.name == "sqlite":
            marks = ", ".join("?" for _ in columns)
            connection.exec_driver_sql(
                f"INSERT INTO {table.name} ({names}) VALUES ({marks})", batch
            )
            continue
        raw = connection.connection.driver_connection
        with raw.cursor().copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:  # type: ignore[union-attr]
            for values in batch:
                copy.write_row(values)


@contextmanager
def _sqlite_indexes_after(connection: sa.Connection, tables: Sequence[str]) -> Iterator[None]:
    """Inside: `tables` without their indexes and triggers. After: each index built from its
    own CREATE statement, each FTS5 table whose content is one of `tables` rebuilt in one
    pass, then the triggers that keep them in step put back."""
    marks = ", ".join("?" for _ in tables)
    found = connection.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
        f" AND tbl_name IN ({marks}) AND sql IS NOT NULL",
        tuple(tables),
    ).all()
    virtual = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%'"
    ).all()
    fts = [
        name
        for name, sql in virtual
        if (content := _FTS5_CONTENT.search(sql)) and content.group(1) in tables
    ]
    for kind, name, _sql in found:
        connection.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    yield
    for kind, _name, sql in found:
        if kind == "index":
            connection.exec_driver_sql(sql)
    for name in fts:
        connection.exec_driver_sql(f'INSERT INTO "{name}"("{name}") VALUES (\'rebuild\')')
    for kind, _name, sql in found:
        if kind == "trigger":
            connection.exec_driver_sql(sql)


@contextmanager
def _postgres_indexes_after(connection: sa.Connection, tables: Sequence[str]) -> Iterator[None]:
    """Inside: `tables` without the indexes that back no constraint (primary keys and
    foreign keys stay). After: each built again from its own definition, in one pass."""
    found = connection.execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes i"
            " WHERE schemaname = current_schema() AND tablename = ANY(:tables)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
            " WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)"
        ),
        {"tables": list(tables)},
    ).all()
    for name, _definition in found:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for _name, definition in found:
        connection.exec_driver_sql(definition)


def _indexes_after(connection: sa.Connection, tables: Sequence[str]) -> Any:
    """The rows of `tables` go in first, their indexes and search tables are built after."""
    if connection.dialect.name == "sqlite":
        return _sqlite_indexes_after(connection, tables)
    return _postgres_indexes_after(connection, tables)


def seed(engine: sa.Engine, count: int) -> int:
    """Insert `count` public pictures of one owner (titles, one of 50 categories, one of 80
    tags, each on one of the owner's 100 boards), `count` audit entries and `count // 10`
    views in the week before SEEDED_AT.

    Returns the owner's id. One transaction.
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
        with _indexes_after(connection, SEEDED_TABLES):
            first_id = 1 + int(
                connection.execute(sa.select(sa.func.count()).select_from(Asset)).scalar_one()
            )
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
                    _title(rng, i),
                    CATEGORIES[i % len(CATEGORIES)],
                    "public",
                    "passed",
                    False,
                    False,
                    int(rng.random() * 501),
                    *_ratings(rng),
                    0,
                    start + i * second,
                ),
            )
            _insert_chunks(
                connection,
                AssetTag,
                ("asset_id", "tag"),
                count,
                lambda i: (first_id + i, TAGS[(i * 7) % len(TAGS)]),
            )
            first_board = 1 + int(
                connection.execute(sa.select(sa.func.count()).select_from(Board)).scalar_one()
            )
            _insert_chunks(
                connection,
                Board,
                ("owner_id", "name", "created_at"),
                BOARDS,
                lambda b: (owner, f"board {b:03d}", start),
            )
            _insert_chunks(
                connection,
                BoardItem,
                ("board_id", "asset_id", "added_at"),
                count,
                lambda i: (first_board + i % BOARDS, first_id + i, start + i * second),
            )
            _insert_chunks(
                connection,
                AssetView,
                ("asset_id", "at"),
                count // 10,
                lambda _i: (
                    first_id + int(rng.random() * count),
                    SEEDED_AT - rng.random() * 7 * 86_400 * second,
                ),
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
    if engine.dialect.name != "sqlite":  # what autovacuum does after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    return int(owner)


def _cache_name(count: int) -> str:
    """The cached gallery's name: the seed's version, the schema's migration head, the size."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    return f"p4_v{SEED_VERSION}_{head}_{count}"


def _owner(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(sa.select(col(User.id)).where(col(User.username) == "bench"))
            .scalars()
            .one()
        )


@contextmanager
def _sqlite(count: int) -> Iterator[Seeded]:
    """A copy of the cached SQLite gallery of `count` rows (built first if missing)."""
    cached = CACHE_DIR / f"{_cache_name(count)}.db"
    seed_s = 0.0
    if not cached.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        building = cached.with_suffix(".building")
        building.unlink(missing_ok=True)
        migrate(f"sqlite:///{building}")
        engine = make_engine(f"sqlite:///{building}")
        started = time.perf_counter()
        seed(engine, count)
        seed_s = time.perf_counter() - started
        engine.dispose()
        building.rename(cached)
    folder = Path(tempfile.mkdtemp(prefix="aikings-bench-p4-"))
    try:
        shutil.copyfile(cached, folder / "bench.db")
        engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
        try:
            yield Seeded(engine, _owner(engine), seed_s)
        finally:
            engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _admin(url: sa.URL, statement: str) -> None:
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(statement)
    finally:
        admin.dispose()


def _database_exists(url: sa.URL, name: str) -> bool:
    admin = sa.create_engine(url)
    try:
        with admin.connect() as connection:
            found = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
    finally:
        admin.dispose()
    return found is not None


@contextmanager
def _postgres(base_url: str, count: int) -> Iterator[Seeded]:
    """A copy of the cached PostgreSQL gallery of `count` rows beside `base_url`'s database."""
    base = sa.make_url(normalize_url(base_url))
    cached = f"{base.database}_{_cache_name(count)}"
    run = f"{base.database}_p4_run"
    seed_s = 0.0
    if not _database_exists(base, cached):
        building = f"{cached}_building"
        _admin(base, f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        _admin(base, f'CREATE DATABASE "{building}"')
        migrate(str(base.set(database=building)))
        engine = make_engine(str(base.set(database=building)))
        started = time.perf_counter()
        seed(engine, count)
        seed_s = time.perf_counter() - started
        engine.dispose()
        _admin(base, f'ALTER DATABASE "{building}" RENAME TO "{cached}"')
    _admin(base, f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)')
    _admin(base, f'CREATE DATABASE "{run}" TEMPLATE "{cached}"')
    engine = make_engine(str(base.set(database=run)))
    try:
        yield Seeded(engine, _owner(engine), seed_s)
    finally:
        engine.dispose()
        _admin(base, f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)')


@contextmanager
def seeded(count: int, postgres_url: str | None = None) -> Iterator[Seeded]:
    """A gallery of `count` rows to time: on PostgreSQL beside `postgres_url` when given,
    else on SQLite; from the cache from CACHE_MIN_ROWS up, seeded afresh below it."""
    if postgres_url is not None:
        with _postgres(postgres_url, count) as found:
            yield found
        return
    if count >= CACHE_MIN_ROWS:
        with _sqlite(count) as found:
            yield found
        return
    with scratch_engine() as engine:
        started = time.perf_counter()
        owner = seed(engine, count)
        yield Seeded(engine, owner, time.perf_counter() - started)

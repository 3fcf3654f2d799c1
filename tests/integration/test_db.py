"""The database layer on every configured backend: migrations, types, constraints, locking."""

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import select

from core.db import downgrade, make_engine, migrate, normalize_url, read_scope, session_scope
from core.gallery import search
from core.models import GpuInstance, JobStatus, Lease, Muse, metadata
from testing.factories import make_instance, make_user
from tests.conftest import PG_URL_ENV


def _migration_url(db_backend, tmp_path):
    import os

    if db_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return os.environ[PG_URL_ENV]


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": search.is_modelled}
        )
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrations_go_down_to_nothing_and_back_up(db_backend, tmp_path, request):
    if db_backend == "postgresql":
        request.getfixturevalue("pg_engine")  # migrated; we take it down and up again
    url = _migration_url(db_backend, tmp_path)
    migrate(url)
    downgrade(url)
    engine = make_engine(url)
    try:
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate(url)
        assert set(metadata.tables) <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_band_migration_gives_already_blocked_hashes_their_bands(tmp_path):
    url = f"sqlite:///{tmp_path / 'bands.db'}"
    migrate(url, "scale22_01")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO blockedhash (sha256, phash, reason, created_at) VALUES "
                    "('a', '9f3a61c2d4e87b05', 't', '2026-12-01'), ('b', NULL, 't', '2026-12-01')"
                )
            )
        migrate(url)
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT sha256, phash_band0, phash_band1, phash_band2, phash_band3 "
                    "FROM blockedhash ORDER BY sha256"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("a", 0x9F3A, 0x61C2, 0xD4E8, 0x7B05),
        ("b", None, None, None, None),
    ]


def test_postgres_urls_use_psycopg3():
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_money_round_trips_exactly(engine):
    row = make_instance(engine, price_per_hour_usd=Decimal("0.345678"))
    with read_scope(engine) as session:
        stored = session.get(GpuInstance, row.id)
    assert stored.price_per_hour_usd == Decimal("0.345678")


def test_money_refuses_float(engine):
    with pytest.raises(sa.exc.StatementError, match="never float"):
        make_instance(engine, price_per_hour_usd=0.5)


def test_timestamps_come_back_timezone_aware_in_utc(engine):
    moment = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    row = make_instance(engine, created_at=moment)
    with read_scope(engine) as session:
        stored = session.get(GpuInstance, row.id)
    assert stored.created_at == moment
    assert stored.created_at.tzinfo is not None


def test_enums_round_trip_as_members(engine):
    from testing.factories import make_muse

    user = make_user(engine)
    make_muse(engine, user)
    with read_scope(engine) as session:
        instance = make_instance(engine)
        stored = session.get(GpuInstance, instance.id)
    assert stored.state.value == "requested"
    assert JobStatus("queued") is JobStatus.QUEUED


def test_the_database_refuses_a_muse_under_18(engine):
    user = make_user(engine)
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.add(Muse(owner_id=user.id, name="x", age=17))


def test_one_open_lease_per_instance_is_enforced_by_the_database(engine):
    from core.models import GenerationJob

    user = make_user(engine)
    instance = make_instance(engine)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(engine) as session:
        jobs = [
            GenerationJob(user_id=user.id, prompt="p", model="m", preset="low", seed=1)
            for _ in range(3)
        ]
        session.add_all(jobs)
        session.flush()
        session.add(
            Lease(
                instance_id=instance.id,
                job_id=jobs[0].id,
                acquired_at=now,
                expires_at=now,
                released_at=now,
            )
        )
        session.add(
            Lease(instance_id=instance.id, job_id=jobs[1].id, acquired_at=now, expires_at=now)
        )
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.add(
            Lease(instance_id=instance.id, job_id=jobs[2].id, acquired_at=now, expires_at=now)
        )


def test_session_scope_rolls_back_on_error(engine):
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(GpuInstance(pool="default", label="aik-default-rollback"))
        session.flush()
        raise RuntimeError("abort")
    with read_scope(engine) as session:
        assert session.exec(select(GpuInstance)).all() == []


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_engine):
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_concurrent_read_then_write_transactions_wait_instead_of_failing(sqlite_engine):
    """Two writers that read before writing: with BEGIN IMMEDIATE the second waits, both win.

    With SQLite's default deferred BEGIN the second one fails at once with
    "database is locked", whatever the busy timeout (SECURITY.md, decision 5).
    """
    make_instance(sqlite_engine, label="aik-default-counter", num_gpus=0)
    errors: list[BaseException] = []
    first_has_read = threading.Event()

    def bump(hold_s: float) -> None:
        try:
            with session_scope(sqlite_engine) as session:
                row = session.exec(
                    select(GpuInstance).where(GpuInstance.label == "aik-default-counter")
                ).one()
                first_has_read.set()
                time.sleep(hold_s)
                row.num_gpus += 1
                session.add(row)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    first = threading.Thread(target=bump, args=(0.3,))
    second = threading.Thread(target=bump, args=(0.0,))
    first.start()
    assert first_has_read.wait(timeout=10)
    second.start()
    for thread in (first, second):
        thread.join(timeout=30)
    assert errors == []
    with read_scope(sqlite_engine) as session:
        row = session.exec(select(GpuInstance)).one()
    assert row.num_gpus == 2


def test_read_scope_does_not_block_a_writer(sqlite_engine):
    make_instance(sqlite_engine)
    with read_scope(sqlite_engine) as reader:
        assert len(reader.exec(select(GpuInstance)).all()) == 1
        make_instance(sqlite_engine)  # a writer commits while the read transaction is open
    with read_scope(sqlite_engine) as reader:
        assert len(reader.exec(select(GpuInstance)).all()) == 2


def test_in_memory_sqlite_shares_one_database_across_sessions():
    engine = make_engine("sqlite://")
    metadata.create_all(engine)
    make_instance(engine)
    with read_scope(engine) as session:
        assert len(session.exec(select(GpuInstance)).all()) == 1

"""SQLite writers of one process take turns on the engine's queue, and never keep a turn
they can no longer give back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import sqlalchemy as sa

from core.db import read_scope, session_scope
from core.models import SchedulerLock

WRITERS = 40


def _writes_finish(engine, timeout_s: float = 20) -> bool:
    """Whether a write transaction on another thread completes within `timeout_s`."""
    done = threading.Event()

    def write():
        with session_scope(engine) as session:
            session.execute(sa.delete(SchedulerLock))
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done.wait(timeout_s)


def test_forty_threads_writing_at_once_all_commit(sqlite_engine):
    start = threading.Barrier(WRITERS)

    def write(number):
        start.wait()
        with session_scope(sqlite_engine) as session:
            now = datetime.now(UTC)
            session.add(
                SchedulerLock(name=f"lock-{number}", holder="t", expires_at=now, renewed_at=now)
            )

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))  # a "database is locked" would raise here
    with read_scope(sqlite_engine) as session:
        assert len(session.exec(sa.select(SchedulerLock)).all()) == WRITERS


def test_a_failed_or_invalidated_write_gives_its_turn_back(sqlite_engine):
    try:
        with session_scope(sqlite_engine) as session:
            session.execute(sa.text("SELECT 1"))
            raise RuntimeError("the unit of work fails")
    except RuntimeError:
        pass
    assert _writes_finish(sqlite_engine)
    with sqlite_engine.connect() as connection:
        transaction = connection.begin()  # BEGIN IMMEDIATE: this connection has the turn
        connection.invalidate()  # its DBAPI connection is dropped mid-transaction
        transaction.rollback()
    assert _writes_finish(sqlite_engine)

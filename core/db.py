"""Engines, sessions and migrations for SQLite (default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout so the web and the scheduler can write at once,
and write transactions start with `BEGIN IMMEDIATE`: a deferred transaction that upgrades
from read to write fails at once with "database is locked", ignoring the busy timeout
(SECURITY.md, decision 5). Read-only work uses `read_scope`, which begins deferred.

Within one process, SQLite write transactions also queue first come, first served on a lock
of the engine's: SQLite's own busy handler polls, so with dozens of threads writing (a login
flood) an unlucky writer could lose every poll for the whole busy timeout and fail. The busy
timeout still arbitrates between processes.

`run_transaction` is the one place a unit of work is retried: on a deadlock, a serialization
failure, a dropped connection or "database is locked", bounded and logged. Use cases that lock
balances, jobs and leases take them in the order `core.accounts.ledger` documents.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from core.config import REPO_ROOT

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000
SQLITE_MMAP_BYTES = 1 << 30
"""How much of a SQLite file is read through a memory map, not a read() per page: a gallery
page walking 2,000 rows in random order took 26 ms through SQLite's 2 MB page cache, 11 ms
mapped (200,000 pictures)."""
_BEGIN_OPTION = "aik_sqlite_begin"


class _WriterQueue:
    """A first-come, first-served turn for one process's SQLite write transactions.

    The turn belongs to a connection; it passes on when that connection's transaction ends
    (commit or rollback, which SQLAlchemy reports even for a connection invalidated midway).
    Each waiter waits on an event of its own and an ending wakes the next one only: with
    one condition for all, every ending woke every waiting writer to look at its ticket
    (16 job threads queued behind each other's endings in a burst), each taking the GIL.
    """

    _HANDED_ON = (-1, None)
    """The holder while the turn is on its way to the next waiter (it sets itself)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: deque[threading.Event] = deque()
        self._holder: tuple[int, object] | None = None  # (thread id, connection)
        self.wakeups = 0
        """How many waiters were woken (each is woken once, when its turn comes)."""

    def wait_for_turn(self, connection: object) -> None:
        """Block until every writer that asked earlier has finished, then give `connection`
        the turn; at once, without it, for a second writer of the thread that has the turn
        (it cannot wait for itself: SQLite's busy timeout handles it as before)."""
        me = threading.get_ident()
        with self._lock:
            if self._holder is not None and self._holder[0] == me:
                return
            if self._holder is None:
                self._holder = (me, connection)
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()
        with self._lock:
            self.wakeups += 1
            self._holder = (me, connection)

    def finished(self, connection: object) -> None:
        """`connection`'s transaction ended: the next writer's turn, if it had the turn."""
        with self._lock:
            if self._holder is None or self._holder[1] is not connection:
                return
            if not self._waiting:
                self._holder = None
                return
            self._holder = self._HANDED_ON
            self._waiting.popleft().set()


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs; leave everything else as given."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url` with the pragmas and transaction mode this system relies on.

    A file-backed SQLite database gets its parent directory created; `sqlite://` (memory)
    shares one connection so every session sees the same database.
    """
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, echo=echo, pool_pre_ping=True)

    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        kwargs["poolclass"] = StaticPool
    else:
        path = sa.engine.make_url(url).database
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, echo=echo, **kwargs)
    _install_sqlite_behaviour(engine, wal=not in_memory)
    return engine


def _py_lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _install_sqlite_behaviour(engine: Engine, *, wal: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
        cursor.close()
        # SQLite's own lower() folds ASCII only; gallery search compares Unicode titles
        # (core.gallery.search) the way the FTS5 trigram index folds them.
        dbapi_connection.create_function("py_lower", 1, _py_lower, deterministic=True)

    writers = _WriterQueue()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
        if mode == "IMMEDIATE":
            writers.wait_for_turn(connection)
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            writers.finished(connection)
            raise

    @sa.event.listens_for(engine, "commit")
    def _on_commit(connection: sa.Connection) -> None:
        writers.finished(connection)

    @sa.event.listens_for(engine, "rollback")
    def _on_rollback(connection: sa.Connection) -> None:
        writers.finished(connection)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work: commits when the block ends, rolls back if it raises.

    On SQLite the transaction takes the write lock up front (BEGIN IMMEDIATE), waiting up to
    the busy timeout for another writer instead of failing midway.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A read-only session: never takes SQLite's write lock; anything written is discarded."""
    bind = engine.execution_options(**{_BEGIN_OPTION: "DEFERRED"})
    # Closing without commit ends the transaction; loaded rows stay readable afterwards.
    with Session(bind, expire_on_commit=False) as session:
        yield session


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at our migrations and at `url`."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = normalize_url(url)
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision` (default: the newest)."""
    log.info("db.migrate", extra={"revision": revision})
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the schema at `url` down to `revision` (default: empty)."""
    log.info("db.downgrade", extra={"revision": revision})
    command.downgrade(alembic_config(url), revision)


# ---- retrying a unit of work -------------------------------------------------------------

RETRY_ATTEMPTS = 6
RETRY_FIRST_WAIT_S = 0.02
RETRY_MAX_WAIT_S = 1.0
# PostgreSQL SQLSTATEs after which the whole transaction may simply run again: deadlock,
# serialization failure, and the server ending our session (admin / crash / cannot connect now).
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001", "57P01", "57P02", "57P03"})

T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """True for a failure that says nothing about the work itself, so running the whole
    transaction again is right: a deadlock or serialization failure, a dropped or killed
    connection, SQLite's "database is locked"."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    return isinstance(exc, sa.exc.OperationalError) and "database is locked" in str(exc.orig)


def run_transaction(
    engine: Engine,
    work: Callable[[Session], T],
    *,
    name: str,
    attempts: int = RETRY_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `work(session)` in one unit of work (`session_scope`) and return what it returns,
    running it again from the start, at most `attempts` times in all, when it fails for a
    retryable reason (`is_retryable`); every retry is logged as `db.retry` with `name`.

    The one place transactions are retried. `work` must do nothing outside the database that
    cannot be repeated, and must be idempotent against its own earlier commit: a connection
    dropped while committing leaves it unknown whether the first run committed.
    """
    wait_s = RETRY_FIRST_WAIT_S
    for attempt in range(1, attempts + 1):
        try:
            with session_scope(engine) as session:
                return work(session)
        except sa.exc.DBAPIError as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            log.warning(
                "db.retry",
                extra={"work": name, "attempt": attempt, "error": str(exc.orig)[:200]},
            )
        sleep(wait_s * (0.5 + random.random()))  # jitter, not a secret
        wait_s = min(wait_s * 2, RETRY_MAX_WAIT_S)
    raise AssertionError("unreachable: the last attempt returns or raises")

"""What wakes the dispatcher: a submit's NOTIFY on PostgreSQL, a cheap read on SQLite.

`QueueWaker.wait(timeout_s)` returns as soon as there may be work to claim, or after the
timeout (the backstop for anything that signals nothing). On PostgreSQL it listens on
`queue.QUEUE_CHANNEL` over a connection of its own. On SQLite it asks `queue.dispatchable`
(two indexed reads, no write lock) when it starts waiting and whenever something was
committed since it last asked: `PRAGMA data_version` on a connection of its own, read every
`SQLITE_CHECK_S`, changes with every commit of any other connection and reads no table.
On a SQLite file `dispatchable` itself is asked over that connection too (`may_have_work`,
also the dispatcher's look before each claim): its statement compiled once, no session, no
ORM; during a burst it is asked after nearly every commit, and through a session each ask
cost ~1 ms of the scheduler's CPU.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import cast

import psycopg
from sqlalchemy.engine import Engine

from core.db import read_scope
from core.studio import queue

log = logging.getLogger(__name__)

SQLITE_CHECK_S = 0.01


class QueueWaker:
    """Blocks the dispatcher until a job may be claimable in `pool`."""

    def __init__(self, engine: Engine, *, pool: str) -> None:
        self.engine, self.pool = engine, pool
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None
        self._probe: sqlite3.Connection | None = None
        self._probe_lock = threading.Lock()  # the waker's and the claimers' threads share it
        self._dispatchable_sql: str | None = None

    def wait(self, timeout_s: float) -> bool:
        """True as soon as work may be waiting (a NOTIFY, or a queued job and a ready
        instance), False after `timeout_s` without a sign."""
        if self.engine.dialect.name == "postgresql":
            return self._wait_for_notify(timeout_s)
        deadline = time.monotonic() + timeout_s
        asked: int | None = None  # the data version `dispatchable` last answered for
        while True:
            version = self._data_version()
            if asked is None or version is None or version != asked:
                asked = version if version is not None else 0
                if self.may_have_work():
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(SQLITE_CHECK_S, left))

    def may_have_work(self) -> bool:
        """`queue.dispatchable` now: on a SQLite file over the waker's own connection, else
        (PostgreSQL, an in-memory database, a probe that failed) in a read session."""
        if self.engine.dialect.name == "sqlite":
            if self._dispatchable_sql is None:
                compiled = queue.dispatchable_query(self.pool).compile(
                    dialect=self.engine.dialect, compile_kwargs={"literal_binds": True}
                )
                self._dispatchable_sql = str(compiled)
            row = self._probe_row(self._dispatchable_sql)
            if row is not None:
                return bool(row[0])
        with read_scope(self.engine) as session:
            return queue.dispatchable(session, pool=self.pool)

    def _data_version(self) -> int | None:
        """SQLite's data version as a connection of the waker's own sees it (it changes with
        every commit of any other connection); None for an in-memory database (no other
        connection sees it) or when the probe fails: then every check asks `dispatchable`)."""
        row = self._probe_row("PRAGMA data_version")
        return None if row is None else cast(int, row[0])

    def _probe_row(self, sql: str) -> tuple[object, ...] | None:
        """The first row of `sql` over the waker's own connection to the SQLite file (opened
        on first use; autocommit, so every statement reads the last commit); None for an
        in-memory database or when the probe fails (a new connection is tried next time)."""
        path = self.engine.url.database
        if not path or path == ":memory:":
            return None
        with self._probe_lock:
            try:
                if self._probe is None:
                    self._probe = sqlite3.connect(
                        path, check_same_thread=False, isolation_level=None
                    )
                row: tuple[object, ...] | None = self._probe.execute(sql).fetchone()
            except sqlite3.Error as exc:  # asked again with a new connection next time
                log.warning("dispatch.probe_failed", extra={"error": str(exc)})
                self._close_probe()
                return None
        return row

    def _wait_for_notify(self, timeout_s: float) -> bool:
        try:
            listener = self._listen()
            return any(True for _ in listener.notifies(timeout=timeout_s, stop_after=1))
        except psycopg.Error as exc:  # the backstop timeout keeps dispatch going meanwhile
            log.warning("dispatch.listen_failed", extra={"error": str(exc)})
            self.close()
            time.sleep(min(timeout_s, 1.0))
            return False

    def _listen(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._listener is None or self._listener.closed:
            url = self.engine.url.set(drivername="postgresql")
            self._listener = psycopg.connect(
                url.render_as_string(hide_password=False), autocommit=True
            )
            self._listener.execute(f"LISTEN {queue.QUEUE_CHANNEL}")
        return self._listener

    def close(self) -> None:
        """Drop the listening connection (PostgreSQL) or the data-version probe (SQLite)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._probe_lock:
            self._close_probe()

    def _close_probe(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None

"""What wakes the dispatcher: a submit's NOTIFY on PostgreSQL, a cheap read on SQLite.

`QueueWaker.wait(timeout_s)` returns as soon as there may be work to claim, or after the
timeout (the backstop for anything that signals nothing). On PostgreSQL it listens on
`queue.QUEUE_CHANNEL` over a connection of its own. On SQLite it asks `queue.dispatchable`
(two indexed reads, no write lock) when it starts waiting and whenever something was
committed since it last asked: `PRAGMA data_version` on a connection of its own, read every
`SQLITE_CHECK_S`, changes with every commit of any other connection and reads no table.
"""

from __future__ import annotations

import logging
import sqlite3
import time

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
                with read_scope(self.engine) as session:
                    if queue.dispatchable(session, pool=self.pool):
                        return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(SQLITE_CHECK_S, left))

    def _data_version(self) -> int | None:
        """SQLite's data version as a connection of the waker's own sees it (it changes with
        every commit of any other connection); None for an in-memory database (no other
        connection sees it) or when the probe fails: then every check asks `dispatchable`)."""
        path = self.engine.url.database
        if not path or path == ":memory:":
            return None
        try:
            if self._probe is None:
                self._probe = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            row = self._probe.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error as exc:  # asked again with a new connection next time
            log.warning("dispatch.probe_failed", extra={"error": str(exc)})
            self.close()
            return None
        return int(row[0])

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
        if self._probe is not None:
            self._probe.close()
            self._probe = None

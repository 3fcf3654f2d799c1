"""What wakes the dispatcher: a submit's NOTIFY on PostgreSQL, a cheap read on SQLite.

`QueueWaker.wait(timeout_s)` returns as soon as there may be work to claim, or after the
timeout (the backstop for anything that signals nothing). On PostgreSQL it listens on
`queue.QUEUE_CHANNEL` over a connection of its own; on SQLite it asks `queue.dispatchable`
(two indexed reads, no write lock) every `SQLITE_CHECK_S`.
"""

from __future__ import annotations

import logging
import time

import psycopg
from sqlalchemy.engine import Engine

from core.db import read_scope
from core.studio import queue

log = logging.getLogger(__name__)

SQLITE_CHECK_S = 0.05


class QueueWaker:
    """Blocks the dispatcher until a job may be claimable in `pool`."""

    def __init__(self, engine: Engine, *, pool: str) -> None:
        self.engine, self.pool = engine, pool
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None

    def wait(self, timeout_s: float) -> bool:
        """True as soon as work may be waiting (a NOTIFY, or a queued job and a ready
        instance), False after `timeout_s` without a sign."""
        if self.engine.dialect.name == "postgresql":
            return self._wait_for_notify(timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:
            with read_scope(self.engine) as session:
                if queue.dispatchable(session, pool=self.pool):
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(SQLITE_CHECK_S, left))

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
        """Drop the listening connection (PostgreSQL)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None

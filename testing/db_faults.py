"""Database faults for tests and the fault campaign: statements that fail as a dropped
connection does, and (PostgreSQL) killing every other session's connection."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@dataclass
class StatementFault:
    """Fails the statements matching `pattern` (at most `times` of them; None: all) while on."""

    pattern: re.Pattern[str]
    times: int | None = None
    failed: int = 0
    on: bool = True

    def check(self, statement: str) -> None:
        """Raise a retryable "connection dropped" error if `statement` is one to fail now."""
        if not self.on or not self.pattern.search(statement):
            return
        if self.times is not None and self.failed >= self.times:
            return
        self.failed += 1
        raise sa.exc.OperationalError(
            statement, {}, sqlite3.OperationalError("injected fault"), connection_invalidated=True
        )


@contextmanager
def failing_statements(
    engine: Engine, pattern: str, *, times: int | None = None
) -> Iterator[StatementFault]:
    """While the block runs, statements on `engine` matching `pattern` (a regex, case
    ignored) fail as if their connection dropped; `fault.on = False` heals early."""
    fault = StatementFault(re.compile(pattern, re.IGNORECASE), times)

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        fault.check(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield fault
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def kill_other_connections(engine: Engine) -> int:
    """PostgreSQL: terminate every other session on `engine`'s database; how many."""
    with engine.connect() as connection:
        killed = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
        connection.commit()
    return int(killed)


class DatabaseFaults:
    """The fault campaign's database faults, one at a time: statements failing as dropped
    connections do, a storm of connection kills (PostgreSQL; dropped statements on SQLite),
    and a lock storm (another session holding the pool's and the users' rows, or SQLite's
    write lock, again and again)."""

    KINDS = ("drop", "kill_storm", "lock_storm")

    def __init__(self, engine: Engine, rng: Any) -> None:
        self.engine, self.rng = engine, rng
        self.started = 0
        self._stop: Any = None
        self._undo: Any = None

    def start(self, kind: str) -> None:
        """Begin fault `kind` (one of KINDS) until `stop`."""
        import threading

        self.stop()
        self.started += 1
        postgres = self.engine.dialect.name == "postgresql"
        if kind == "drop" or (kind == "kill_storm" and not postgres):
            pattern = r"^(UPDATE|INSERT|DELETE|SELECT)"
            manager = failing_statements(self.engine, pattern, times=self.rng.randint(1, 12))
            manager.__enter__()
            self._undo = lambda: manager.__exit__(None, None, None)
            return
        stop = threading.Event()
        target = self._kill_storm if kind == "kill_storm" else self._lock_storm
        thread = threading.Thread(target=target, args=(stop,), daemon=True)
        thread.start()
        self._stop = stop
        self._undo = thread.join

    def stop(self) -> None:
        """End the current fault, if any."""
        if self._stop is not None:
            self._stop.set()
        if self._undo is not None:
            self._undo()
        self._stop = self._undo = None

    def _kill_storm(self, stop: Any) -> None:
        from core.db import make_engine

        killer = make_engine(self.engine.url.render_as_string(hide_password=False))
        try:
            while not stop.wait(0.02):
                kill_other_connections(killer)
        finally:
            killer.dispose()

    def _lock_storm(self, stop: Any) -> None:
        from core.db import make_engine, session_scope

        other = make_engine(self.engine.url.render_as_string(hide_password=False))
        try:
            while not stop.is_set():
                try:
                    with session_scope(other) as session:
                        session.execute(
                            sa.text('SELECT id FROM "user" FOR UPDATE')
                            if other.dialect.name == "postgresql"
                            else sa.text('UPDATE "user" SET id = id')
                        )
                        session.execute(sa.text("UPDATE poolconfig SET name = name"))
                        stop.wait(0.05)
                except sa.exc.DBAPIError:
                    continue  # killed or deadlocked: storm on
        finally:
            other.dispose()

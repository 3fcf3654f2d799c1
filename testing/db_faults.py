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


def kill_other_connections(engine: Engine, *, application_name: str | None = None) -> int:
    """PostgreSQL: terminate every other session on `engine`'s database (only those whose
    `application_name` is the one given, if given); how many."""
    only = "" if application_name is None else " AND application_name = :name"
    with engine.connect() as connection:
        killed = connection.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()" + only
            ),
            {} if application_name is None else {"name": application_name},
        ).scalar_one()
        connection.commit()
    return int(killed)


class SchedulerKilled(BaseException):
    """The scheduler process died (SIGKILL) in the middle of a statement: nothing of its open
    transaction commits and no code of its runs any more (no `except Exception` catches it)."""


@contextmanager
def killed_mid_transaction(engine: Engine, pattern: str, *, after: int = 0) -> Iterator[None]:
    """While the block runs, the statement on `engine` matching `pattern` (regex, case
    ignored) once `after` matching ones have run drops its connection without a rollback,
    as a SIGKILLed process's does (the server aborts the transaction), and raises
    SchedulerKilled."""
    regex = re.compile(pattern, re.IGNORECASE)
    seen = 0

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal seen
        if not regex.search(statement):
            return
        seen += 1
        if seen <= after:
            return
        sa.event.remove(engine, "before_cursor_execute", before)
        conn.invalidate()  # the socket closes; no ROLLBACK is sent
        raise SchedulerKilled(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        if sa.event.contains(engine, "before_cursor_execute", before):
            sa.event.remove(engine, "before_cursor_execute", before)


LOCKED_TABLES = ("user", "generationjob", "gpuinstance", "lease", "poolconfig")
"""What a lock storm holds: the balances (users' rows), jobs, instances, leases, the pool."""


class DatabaseFaults:
    """The fault campaign's database faults, one at a time, against the scheduler's engine:

    - `drop`: its statements fail as dropped connections do, 1 to 12 of them;
    - `kill_storm`: (PostgreSQL) its backends, found by `application_name`, are killed with
      `pg_terminate_backend` every 20 ms; on SQLite, dropped statements as `drop`;
    - `lock_storm`: another session holds the rows of users (balances), jobs, instances,
      leases and the pool (`FOR UPDATE`, in a random order; on SQLite the write lock) for
      tens of milliseconds at a time, again and again.
    """

    KINDS = ("drop", "kill_storm", "lock_storm")

    def __init__(self, engine: Engine, rng: Any, *, application_name: str | None = None) -> None:
        self.engine, self.rng = engine, rng
        self.application_name = application_name
        self.started = 0
        self.kills = 0
        self.lock_holds = 0
        self._stop: Any = None
        self._undo: Any = None

    @property
    def active(self) -> bool:
        """Whether a fault is on now."""
        return self._undo is not None

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
        started = threading.Event()
        target = self._kill_storm if kind == "kill_storm" else self._lock_storm
        seed = self.rng.random()
        thread = threading.Thread(target=target, args=(stop, started, seed), daemon=True)
        thread.start()
        started.wait(10)  # the storm is on before the scheduler's work goes on
        self._stop = stop
        self._undo = thread.join

    def stop(self) -> None:
        """End the current fault, if any."""
        if self._stop is not None:
            self._stop.set()
        if self._undo is not None:
            self._undo()
        self._stop = self._undo = None

    def _other_engine(self) -> Engine:
        from core.db import make_engine

        url = self.engine.url.set(query={})  # not the scheduler's application_name
        return make_engine(url.render_as_string(hide_password=False))

    def _kill_storm(self, stop: Any, started: Any, _seed: float) -> None:
        killer = self._other_engine()
        try:
            while True:
                self.kills += kill_other_connections(killer, application_name=self.application_name)
                started.set()
                if stop.wait(0.02):
                    return
        finally:
            started.set()
            killer.dispose()

    def _lock_storm(self, stop: Any, started: Any, seed: float) -> None:
        import random

        from core.db import session_scope

        rng = random.Random(seed)
        other = self._other_engine()
        postgres = other.dialect.name == "postgresql"
        try:
            while not stop.is_set():
                try:
                    with session_scope(other) as session:  # SQLite: BEGIN IMMEDIATE
                        if postgres:
                            session.execute(sa.text("SET LOCAL deadlock_timeout = '50ms'"))
                            for table in rng.sample(LOCKED_TABLES, len(LOCKED_TABLES)):
                                session.execute(sa.text(f'SELECT 1 FROM "{table}" FOR UPDATE'))
                        else:
                            session.execute(sa.text("UPDATE poolconfig SET name = name"))
                        self.lock_holds += 1
                        started.set()
                        stop.wait(rng.uniform(0.01, 0.08))
                except sa.exc.DBAPIError:
                    continue  # deadlocked with the scheduler (it lost or we did): storm on
                stop.wait(0.005)
        finally:
            started.set()
            other.dispose()

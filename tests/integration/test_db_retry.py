"""`run_transaction` runs a unit of work again after a failure unrelated to the work itself."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from sqlmodel import select

from core.db import is_retryable, run_transaction, session_scope
from core.models import User
from testing.factories import make_user


def test_a_unit_of_work_whose_connection_is_killed_runs_again_and_commits_once(engine):
    user = make_user(engine)
    runs = []

    def rename(session):
        runs.append(1)
        if len(runs) == 1:
            kill_own_connection(engine, session)
        row = session.get(User, user.id)
        row.username = "renamed"
        session.add(row)
        return len(runs)

    assert run_transaction(engine, rename, name="test", sleep=lambda _s: None) == 2
    with session_scope(engine) as session:
        assert session.exec(select(User.username).where(User.id == user.id)).one() == "renamed"


def kill_own_connection(engine, session):
    """Break the session's connection as a database restart would (PG) or as a driver
    failure would (SQLite, whose file has no server to kill it)."""
    connection = session.connection()
    if engine.dialect.name == "postgresql":
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with engine.connect() as killer:
            killer.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            killer.commit()
    else:
        connection.connection.dbapi_connection.close()
    session.execute(sa.text("SELECT 1"))


def test_retrying_gives_up_after_the_bounded_number_of_attempts(engine):
    attempts = []

    def always_locked(_session):
        attempts.append(1)
        raise sa.exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))

    with pytest.raises(sa.exc.OperationalError):
        run_transaction(engine, always_locked, name="test", attempts=4, sleep=lambda _s: None)
    assert len(attempts) == 4


def test_an_error_in_the_work_itself_is_not_retried(engine):
    attempts = []

    def broken(session):
        attempts.append(1)
        session.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(sa.exc.DBAPIError) as raised:
        run_transaction(engine, broken, name="test", sleep=lambda _s: None)
    assert not is_retryable(raised.value)
    assert len(attempts) == 1

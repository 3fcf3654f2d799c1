"""The reads a page or a dispatch makes per job are served by an index, not a history scan:
each query is captured as the code really issues it and its plan is asked of the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from core.db import read_scope
from core.pool import costs
from core.studio import history, queue
from testing.factories import make_job, make_user
from testing.statements import statements_sent


def _plans(engine: Engine, read: Callable[[Any], object]) -> list[str]:
    """The database's plan of every SELECT `read(session)` issues (PostgreSQL told to avoid
    a sequential scan wherever an index can serve, as it would at a million rows)."""
    with statements_sent(engine) as sent, read_scope(engine) as session:
        read(session)
    seen = [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT")]
    plans = []
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            prefix = "EXPLAIN "
        else:
            prefix = "EXPLAIN QUERY PLAN "
        for statement, parameters in seen:
            cursor.execute(prefix + statement, parameters)
            plans.append(" ".join(str(row) for row in cursor.fetchall()))
        cursor.close()
    return plans


@pytest.fixture
def user(engine):
    user = make_user(engine)
    make_job(engine, user)
    return user


def test_the_estimate_median_reads_the_estimate_index(engine, user):
    plans = _plans(
        engine,
        lambda s: costs.median_duration_s(
            s, preset="low", model="sdxl-base", kind="image", default_s=1.0
        ),
    )
    assert plans and all("ix_job_estimate" in plan for plan in plans), plans


def test_the_fair_order_counts_jobs_in_flight_from_an_index(engine, user):
    plans = _plans(engine, lambda s: queue.fair_order(s, limit=1))
    if engine.dialect.name == "postgresql":
        # Its planner picks among fitting indexes by statistics, which a table of one row
        # cannot show: what is checked is that no read scans the table.
        assert plans and not any("Seq Scan" in plan for plan in plans), plans
    else:
        assert any("ix_job_status_user" in plan for plan in plans), plans


def test_a_users_history_is_read_newest_first_from_an_index(engine, user):
    plans = _plans(engine, lambda s: history.recent_jobs(s, user_id=user.id, limit=20))
    assert plans and all("ix_job_user_id" in plan for plan in plans), plans

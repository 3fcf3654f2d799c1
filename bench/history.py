"""A month of history for P3: accrual events, the day totals they add up to, and submissions.

Seeded in bulk (executemany in chunks) so P3 can show that a reconcile tick does not grow with
the month: accruals of a busy pool (1M+ rows) and 700k finished jobs over the last 28 days.
The month is seeded once per process into a SQLite file; each run copies it in by ATTACH.
"""

from __future__ import annotations

import atexit
import functools
import random
import shutil
import tempfile
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.db import make_engine, migrate, session_scope
from core.models import GenerationJob, JobStatus, PoolSpendDay, UsageEvent, User
from core.pool.costs import ACCRUAL_EVENT

ACCRUAL_ROWS = 1_050_000
JOB_ROWS = 700_000
DAYS = 28
CHUNK = 50_000


TABLES = ("user", "usageevent", "poolspendday", "generationjob")


def month_of_history(engine: Engine, now: datetime) -> str:
    """Copy the month (seeded once per process, before `now`) into `engine`'s fresh SQLite
    database; name what was copied."""
    template = _template(now.replace(minute=0, second=0, microsecond=0))
    with engine.begin() as connection:
        connection.exec_driver_sql(f"ATTACH DATABASE '{template}' AS history")
        for table in TABLES:
            connection.exec_driver_sql(f'INSERT INTO "{table}" SELECT * FROM history."{table}"')
    with engine.connect() as connection:
        connection.exec_driver_sql("DETACH DATABASE history")
    return f"{ACCRUAL_ROWS / 1e6:.2f}M accruals + {JOB_ROWS // 1000}k jobs of history"


@functools.cache
def _template(now: datetime) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="aikings-bench-history-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "history.db"
    migrate(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        seed_month(engine, now)
    finally:
        engine.dispose()
    return path


def seed_month(
    engine: Engine, now: datetime, *, accruals: int = ACCRUAL_ROWS, jobs: int = JOB_ROWS
) -> None:
    """Seed `accruals` accrual events and `jobs` finished jobs over the `DAYS` before `now`
    (seeded, so every run seeds the same), with the day totals the accruals sum to."""
    rng = random.Random(18)
    span_s = DAYS * 86_400
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    with session_scope(engine) as session:
        user = User(
            username="history", email="history@example.test", display_name="History",
            password_hash="not-a-real-hash",
        )  # fmt: skip
        session.add(user)
        session.flush()
        user_id = user.id
    for start in range(0, accruals, CHUNK):
        rows = []
        for _ in range(min(CHUNK, accruals - start)):
            at = now - timedelta(seconds=rng.uniform(1, span_s))
            cost = Decimal(rng.randint(1000, 9000)) / 1_000_000
            per_day[at.date()] += cost
            rows.append(
                {"at": at, "pool": "default", "kind": ACCRUAL_EVENT, "cost_usd": cost,
                 "duration_s": 30.0, "details": {}}
            )  # fmt: skip
        with session_scope(engine) as session:
            session.execute(sa.insert(UsageEvent), rows)
    with session_scope(engine) as session:
        session.execute(
            sa.insert(PoolSpendDay),
            [
                {"pool": "default", "day": day, "accrued_usd": total}
                for day, total in per_day.items()
            ],
        )
    for start in range(0, jobs, CHUNK):
        rows = []
        for index in range(start, min(start + CHUNK, jobs)):
            created = now - timedelta(seconds=rng.uniform(60, span_s))
            rows.append(
                {"user_id": user_id, "status": JobStatus.SUCCEEDED, "prompt": "history",
                 "model": "sdxl-base", "preset": "low", "seed": index, "request": {},
                 "created_at": created, "started_at": created,
                 "finished_at": created + timedelta(seconds=20), "updated_at": created}
            )  # fmt: skip
        with session_scope(engine) as session:
            session.execute(sa.insert(GenerationJob), rows)

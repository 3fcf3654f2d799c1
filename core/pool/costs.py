"""What the pool costs: accrual per instance, spend against budgets, job cost and estimates.

Accounting only; the spend and use over time for reports and charts are in `core.pool.reports`.

Accrual is pessimistic, as Vast bills storage from creation: every instance we know was
created accrues `price_per_hour_usd` from its creation until it is confirmed gone.

Spend is kept as running sums: each instance's `cost_accrued_usd` and each pool's
`PoolSpendDay` row grow with every accrual, so a budget check reads at most a month of day
rows, never the accrual history (a month at 100 instances is ~9M accrual events).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_CEILING, Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col, select

from core.models import GenerationJob, GpuInstance, JobStatus, PoolSpendDay

ACCRUAL_EVENT = "gpu_accrual"
SECONDS_PER_HOUR = Decimal(3600)
ESTIMATE_SAMPLE = 20
_USAGE_TABLE = SQLModel.metadata.tables["usageevent"]


def cost_for(price_per_hour_usd: Decimal, seconds: float) -> Decimal:
    """The cost of `seconds` at an hourly price, exact to the micro-dollar."""
    return (price_per_hour_usd * Decimal(str(round(seconds, 3))) / SECONDS_PER_HOUR).quantize(
        Decimal("0.000001")
    )


def accrue(session: Session, *, instance: GpuInstance, now: datetime) -> Decimal:
    """Add the cost since the last accrual to `instance` and record it; return the amount.

    Only instances the provider created (they have a provider id) cost money.
    """
    return accrue_all(session, instances=[instance], now=now)


def accrue_all(session: Session, *, instances: Sequence[GpuInstance], now: datetime) -> Decimal:
    """`accrue` for each of `instances`: their accrual events inserted in one batch and their
    pools' day totals updated once; the sum."""
    accruals: list[Accrual] = []
    for instance in instances:
        amount, seconds = accrual_due(
            provider_id=instance.provider_id,
            price_per_hour_usd=instance.price_per_hour_usd,
            since=instance.accrued_until or instance.created_at,
            now=now,
        )
        if amount > 0:
            instance.cost_accrued_usd += amount
            instance.accrued_until = now
            session.add(instance)
            accruals.append(Accrual(instance.pool, instance.id or 0, amount, seconds))
    session.flush()  # the instances' rows first: the events refer to them
    return record_accruals(session, accruals=accruals, now=now)


@dataclass(frozen=True)
class Accrual:
    """What one instance accrued in one step: its pool, its row, the amount and the seconds."""

    pool: str
    instance_id: int
    amount_usd: Decimal
    seconds: float


def accrual_due(
    *, provider_id: str | None, price_per_hour_usd: Decimal, since: datetime, now: datetime
) -> tuple[Decimal, float]:
    """What an instance accrued from `since` (its last accrual, else its creation) to `now`:
    (the amount, the seconds it covers). Only instances the provider created (they have a
    provider id) cost money."""
    if provider_id is None:
        return Decimal(0), 0.0
    seconds = (now - since).total_seconds()
    if seconds <= 0:
        return Decimal(0), 0.0
    return cost_for(price_per_hour_usd, seconds), seconds


def record_accruals(session: Session, *, accruals: Sequence[Accrual], now: datetime) -> Decimal:
    """Insert `accruals` as accrual events in one batch and add them to their pools' day
    totals, once per pool (the instances' own running sums are the caller's); the sum."""
    if accruals:
        session.execute(
            sa.insert(_USAGE_TABLE),  # Core: the ORM's bulk insert bookkeeping costs ~50 µs a row
            [
                {"at": now, "pool": a.pool, "kind": ACCRUAL_EVENT, "instance_id": a.instance_id,
                 "job_id": None, "cost_usd": a.amount_usd, "duration_s": a.seconds, "details": {}}
                for a in accruals
            ],
        )  # fmt: skip
    by_pool: dict[str, Decimal] = {}
    for accrual in accruals:
        by_pool[accrual.pool] = by_pool.get(accrual.pool, Decimal(0)) + accrual.amount_usd
    for pool, amount in by_pool.items():
        add_spend(session, pool=pool, day=now.date(), amount_usd=amount)
    return sum(by_pool.values(), Decimal(0))


def add_spend(session: Session, *, pool: str, day: date, amount_usd: Decimal) -> None:
    """Add `amount_usd` to `pool`'s running total for UTC `day`, atomically on both databases
    (an upsert: two writers add, neither overwrites)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(PoolSpendDay).values(pool=pool, day=day, accrued_usd=amount_usd)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["pool", "day"],
            set_={"accrued_usd": col(PoolSpendDay.accrued_usd) + statement.excluded.accrued_usd},
        )
    )


def spend_since(session: Session, *, pool: str, since: datetime) -> Decimal:
    """Accrued GPU spend of `pool` from `since`'s UTC day on (budgets pass a midnight)."""
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(PoolSpendDay.accrued_usd), 0)).where(
            PoolSpendDay.pool == pool, col(PoolSpendDay.day) >= since.date()
        )
    ).one()
    return Decimal(total)


def day_start(now: datetime) -> datetime:
    """Midnight UTC of `now`'s day (budgets are per UTC day and month)."""
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def month_start(now: datetime) -> datetime:
    """The first instant of `now`'s UTC month."""
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def credits_for_cost(cost_usd: Decimal, credit_price_usd: Decimal) -> int:
    """Credits that pay for `cost_usd`, rounded up, at least 1."""
    return max(1, int((cost_usd / credit_price_usd).to_integral_value(rounding=ROUND_CEILING)))


def median_duration_s(
    session: Session, *, preset: str, model: str, kind: str, default_s: float
) -> float:
    """Median GPU time of the last successful jobs with this preset, model and kind.

    Falls back to `default_s` until there are at least three measurements.
    """
    rows = session.exec(
        select(GenerationJob.started_at, GenerationJob.finished_at, GenerationJob.batch_size)
        .where(
            GenerationJob.status == JobStatus.SUCCEEDED,
            GenerationJob.preset == preset,
            GenerationJob.model == model,
            col(GenerationJob.kind) == kind,
            col(GenerationJob.started_at).is_not(None),
            col(GenerationJob.finished_at).is_not(None),
        )
        .order_by(col(GenerationJob.finished_at).desc())
        .limit(ESTIMATE_SAMPLE)
    ).all()
    per_item = [
        (finished - started).total_seconds() / max(batch, 1)
        for started, finished, batch in rows
        if started is not None and finished is not None
    ]
    if len(per_item) < 3:
        return default_s
    return statistics.median(per_item)

"""What the pool costs: accrual per instance, spend against budgets, job cost and estimates.

Accrual is pessimistic, as Vast bills storage from creation: every instance we know was
created accrues `price_per_hour_usd` from its creation until it is confirmed gone.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import GenerationJob, GpuInstance, JobStatus, Lease, PoolConfig, UsageEvent

ACCRUAL_EVENT = "gpu_accrual"
SECONDS_PER_HOUR = Decimal(3600)
ESTIMATE_SAMPLE = 20


def cost_for(price_per_hour_usd: Decimal, seconds: float) -> Decimal:
    """The cost of `seconds` at an hourly price, exact to the micro-dollar."""
    return (price_per_hour_usd * Decimal(str(round(seconds, 3))) / SECONDS_PER_HOUR).quantize(
        Decimal("0.000001")
    )


def accrue(session: Session, *, instance: GpuInstance, now: datetime) -> Decimal:
    """Add the cost since the last accrual to `instance` and record it; return the amount.

    Only instances the provider created (they have a provider id) cost money.
    """
    if instance.provider_id is None:
        return Decimal(0)
    since = instance.accrued_until or instance.created_at
    seconds = (now - since).total_seconds()
    if seconds <= 0:
        return Decimal(0)
    amount = cost_for(instance.price_per_hour_usd, seconds)
    instance.cost_accrued_usd += amount
    instance.accrued_until = now
    session.add(instance)
    if amount > 0:
        session.add(
            UsageEvent(
                at=now,
                pool=instance.pool,
                kind=ACCRUAL_EVENT,
                instance_id=instance.id,
                cost_usd=amount,
                duration_s=seconds,
            )
        )
    return amount


def spend_since(session: Session, *, pool: str, since: datetime) -> Decimal:
    """Accrued GPU spend of `pool` since `since`."""
    total = session.exec(
        select(sa.func.coalesce(sa.func.sum(UsageEvent.cost_usd), 0)).where(
            UsageEvent.pool == pool, UsageEvent.kind == ACCRUAL_EVENT, UsageEvent.at >= since
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


def _accruals(session: Session, *, pool: str, since: datetime) -> list[tuple[datetime, float]]:
    rows = session.exec(
        select(col(UsageEvent.at), col(UsageEvent.cost_usd)).where(
            UsageEvent.pool == pool, UsageEvent.kind == ACCRUAL_EVENT, UsageEvent.at >= since
        )
    ).all()
    return [(at, float(cost)) for at, cost in rows]


def daily_spend_frame(session: Session, *, pool: str, since: datetime) -> pd.DataFrame:
    """GPU spend per UTC day since `since`: columns `day` (date) and `cost_usd` (float).

    Float is for plotting only; budgets and ledgers stay in Decimal.
    """
    frame = pd.DataFrame(
        [(at.date(), cost) for at, cost in _accruals(session, pool=pool, since=since)],
        columns=["day", "cost_usd"],
    )
    return frame.groupby("day", as_index=False)["cost_usd"].sum()


def hourly_spend_frame(session: Session, *, pool: str, since: datetime) -> pd.DataFrame:
    """GPU spend per UTC hour since `since`: columns `hour` (datetime) and `cost_usd` (float)."""
    frame = pd.DataFrame(
        [
            (at.replace(minute=0, second=0, microsecond=0), cost)
            for at, cost in _accruals(session, pool=pool, since=since)
        ],
        columns=["hour", "cost_usd"],
    )
    return frame.groupby("hour", as_index=False)["cost_usd"].sum()


def budget_frame(session: Session, *, pool: str, now: datetime) -> pd.DataFrame:
    """This UTC month, one row per day so far: spend of the day and of the month to date,
    beside the daily and monthly caps (`day`, `spend_usd`, `month_to_date_usd`,
    `daily_cap_usd`, `monthly_cap_usd`). Empty when the pool has no settings yet."""
    config = session.get(PoolConfig, pool)
    columns = ["day", "spend_usd", "month_to_date_usd", "daily_cap_usd", "monthly_cap_usd"]
    if config is None:
        return pd.DataFrame(columns=columns)
    first = month_start(now)
    per_day: dict[date, float] = {}
    for at, cost in _accruals(session, pool=pool, since=first):
        per_day[at.date()] = per_day.get(at.date(), 0.0) + cost
    rows, running = [], 0.0
    for offset in range((now.date() - first.date()).days + 1):
        day = first.date() + timedelta(days=offset)
        running += per_day.get(day, 0.0)
        rows.append(
            (
                day,
                per_day.get(day, 0.0),
                running,
                float(config.daily_budget_usd),
                float(config.monthly_budget_usd),
            )
        )
    return pd.DataFrame(rows, columns=columns)


def jobs_frame(session: Session, *, since: datetime) -> pd.DataFrame:
    """Jobs created since `since`, one row each: day, kind, preset, status, gpu_s, credits."""
    # sa.select: sqlmodel's select() is typed for at most four columns.
    rows = session.execute(
        sa.select(
            col(GenerationJob.created_at),
            col(GenerationJob.kind),
            col(GenerationJob.preset),
            col(GenerationJob.status),
            col(GenerationJob.started_at),
            col(GenerationJob.finished_at),
            col(GenerationJob.charged_credits),
        ).where(col(GenerationJob.created_at) >= since)
    ).all()
    return pd.DataFrame(
        [
            (
                created.date(),
                str(kind),
                preset,
                str(status),
                (finished - started).total_seconds() if started and finished else 0.0,
                charged or 0,
            )
            for created, kind, preset, status, started, finished, charged in rows
        ],
        columns=["day", "kind", "preset", "status", "gpu_s", "credits"],
    )


def utilisation_frame(
    session: Session, *, pool: str, since: datetime, now: datetime
) -> pd.DataFrame:
    """GPU-hours per UTC day: rented (`total_h`), serving jobs (`busy_h`) and idle (the waste)."""
    rented = session.exec(
        select(UsageEvent.at, UsageEvent.duration_s).where(
            UsageEvent.pool == pool, UsageEvent.kind == ACCRUAL_EVENT, UsageEvent.at >= since
        )
    ).all()
    busy = session.exec(
        select(Lease.acquired_at, Lease.released_at)
        .join(GpuInstance, col(GpuInstance.id) == col(Lease.instance_id))
        .where(GpuInstance.pool == pool, Lease.acquired_at >= since)
    ).all()
    frame = pd.DataFrame(
        [(at.date(), (seconds or 0) / 3600, 0.0) for at, seconds in rented]
        + [
            (start.date(), 0.0, ((end or now) - start).total_seconds() / 3600)
            for start, end in busy
        ],
        columns=["day", "total_h", "busy_h"],
    )
    daily = frame.groupby("day", as_index=False)[["total_h", "busy_h"]].sum()
    daily["idle_h"] = (daily["total_h"] - daily["busy_h"]).clip(lower=0)
    return daily


def cold_starts_frame(session: Session, *, pool: str, since: datetime) -> pd.DataFrame:
    """Instances that became ready per day, with their boot seconds (`boot_s`)."""
    rows = session.exec(
        select(UsageEvent.at, UsageEvent.duration_s).where(
            UsageEvent.pool == pool, UsageEvent.kind == "instance_ready", UsageEvent.at >= since
        )
    ).all()
    return pd.DataFrame(
        [(at.date(), seconds or 0.0) for at, seconds in rows], columns=["day", "boot_s"]
    )

"""The pool's spend and use over time, as exact rows for the admin's reports and charts.

Money stays `Decimal` here; only the charts turn it into floats, at the edge
(`ui/spend_frames.py`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import GenerationJob, GpuInstance, Lease, PoolConfig, UsageEvent
from core.pool.costs import ACCRUAL_EVENT, month_start

READY_EVENT = "instance_ready"


@dataclass(frozen=True)
class BudgetDay:
    """One day of this month: its spend, the month's to date, and both caps."""

    day: date
    spend_usd: Decimal
    month_to_date_usd: Decimal
    daily_cap_usd: Decimal
    monthly_cap_usd: Decimal


@dataclass(frozen=True)
class JobRecord:
    """One job as the reports count it: its day, kind, preset, outcome, GPU time, credits."""

    day: date
    kind: str
    preset: str
    status: str
    gpu_s: float
    credits: int


@dataclass(frozen=True)
class GpuHours:
    """GPU-hours of one day: rented, and of those, serving jobs."""

    day: date
    total_h: float
    busy_h: float

    @property
    def idle_h(self) -> float:
        """Rented but serving no job: the waste (never below 0)."""
        return max(self.total_h - self.busy_h, 0.0)


@dataclass(frozen=True)
class Boot:
    """An instance that became ready: the day, and seconds from rental to ready."""

    day: date
    boot_s: float


def _accruals(session: Session, *, pool: str, since: datetime) -> list[tuple[datetime, Decimal]]:
    rows = session.exec(
        select(col(UsageEvent.at), col(UsageEvent.cost_usd)).where(
            UsageEvent.pool == pool, UsageEvent.kind == ACCRUAL_EVENT, UsageEvent.at >= since
        )
    ).all()
    return [(at, Decimal(cost or 0)) for at, cost in rows]


def spend_per_day(session: Session, *, pool: str, since: datetime) -> dict[date, Decimal]:
    """GPU spend of `pool` per UTC day since `since`, days in order (days without spend left
    out)."""
    per_day: dict[date, Decimal] = defaultdict(Decimal)
    for at, cost in _accruals(session, pool=pool, since=since):
        per_day[at.date()] += cost
    return dict(sorted(per_day.items()))


def spend_per_hour(session: Session, *, pool: str, since: datetime) -> dict[datetime, Decimal]:
    """GPU spend of `pool` per UTC hour since `since`, hours in order."""
    per_hour: dict[datetime, Decimal] = defaultdict(Decimal)
    for at, cost in _accruals(session, pool=pool, since=since):
        per_hour[at.replace(minute=0, second=0, microsecond=0)] += cost
    return dict(sorted(per_hour.items()))


def month_budget(session: Session, *, pool: str, now: datetime) -> list[BudgetDay]:
    """This UTC month, one row per day so far: the day's spend and the month's to date beside
    the caps. Empty when the pool has no settings yet."""
    config = session.get(PoolConfig, pool)
    if config is None:
        return []
    first = month_start(now)
    per_day = spend_per_day(session, pool=pool, since=first)
    rows, running = [], Decimal(0)
    for offset in range((now.date() - first.date()).days + 1):
        day = first.date() + timedelta(days=offset)
        spend = per_day.get(day, Decimal(0))
        running += spend
        rows.append(
            BudgetDay(day, spend, running, config.daily_budget_usd, config.monthly_budget_usd)
        )
    return rows


def job_records(session: Session, *, since: datetime) -> list[JobRecord]:
    """Jobs created since `since`, one record each (GPU time 0 for a job that did not run)."""
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
    return [
        JobRecord(
            day=created.date(),
            kind=str(kind),
            preset=preset,
            status=str(status),
            gpu_s=(finished - started).total_seconds() if started and finished else 0.0,
            credits=charged or 0,
        )
        for created, kind, preset, status, started, finished, charged in rows
    ]


def gpu_hours_per_day(
    session: Session, *, pool: str, since: datetime, now: datetime
) -> list[GpuHours]:
    """GPU-hours per UTC day, in order: rented (accrued) and serving jobs (leased; a lease
    still open counts until `now`)."""
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
    total: dict[date, float] = defaultdict(float)
    serving: dict[date, float] = defaultdict(float)
    for at, seconds in rented:
        total[at.date()] += (seconds or 0) / 3600
    for start, end in busy:
        serving[start.date()] += ((end or now) - start).total_seconds() / 3600
    days = sorted(total.keys() | serving.keys())
    return [GpuHours(day, total.get(day, 0.0), serving.get(day, 0.0)) for day in days]


def boots(session: Session, *, pool: str, since: datetime) -> list[Boot]:
    """Instances of `pool` that became ready since `since`, with their boot seconds."""
    rows = session.exec(
        select(UsageEvent.at, UsageEvent.duration_s).where(
            UsageEvent.pool == pool, UsageEvent.kind == READY_EVENT, UsageEvent.at >= since
        )
    ).all()
    return [Boot(at.date(), seconds or 0.0) for at, seconds in rows]

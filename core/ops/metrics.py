"""Prometheus metrics of the pool, queue and spend: what is measured, read at each scrape.

prometheus-client owns the exposition formats, their escaping and content negotiation; this
module says what is measured (one short read of the database per scrape). The scheduler serves
the registry (`scheduler.metrics_server`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import (
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import Clock
from core.db import read_scope
from core.models import (
    GenerationJob,
    GpuInstance,
    InstanceState,
    JobStatus,
    PoolConfig,
    SchedulerLock,
)
from core.pool import billing, costs

RECENT_JOBS = 200  # job durations are summarised over the latest successful jobs


class PoolCollector(Collector):
    """A prometheus-client collector: the pool, queue, spend and job durations at each scrape."""

    def __init__(self, engine: Engine, clock: Clock, *, pool: str) -> None:
        self._engine, self._clock, self._pool = engine, clock, pool

    def collect(self) -> Iterable[Metric]:
        """Every family from one read-only session (closed before the families are encoded)."""
        with read_scope(self._engine) as session:
            return pool_families(session, now=self._clock.now(), pool=self._pool)


def pool_families(session: Session, *, now: datetime, pool: str) -> list[Metric]:
    """The metric families of `pool` as the database has them at `now`."""
    by_state = dict(
        session.exec(
            select(GpuInstance.state, sa.func.count())
            .where(GpuInstance.pool == pool)
            .group_by(col(GpuInstance.state))
        ).all()
    )
    instances = GaugeMetricFamily(
        "aikings_pool_instances", "Instances of the pool by state.", labels=["state"]
    )
    for state in InstanceState:
        instances.add_metric([state.value], by_state.get(state, 0))
    by_status = dict(
        session.exec(
            select(GenerationJob.status, sa.func.count()).group_by(col(GenerationJob.status))
        ).all()
    )
    jobs = GaugeMetricFamily("aikings_jobs", "Generation jobs by status.", labels=["status"])
    for status in JobStatus:
        jobs.add_metric([status.value], by_status.get(status, 0))
    families: list[Metric] = [
        instances,
        jobs,
        GaugeMetricFamily(
            "aikings_queue_depth",
            "Jobs waiting for a GPU.",
            value=by_status.get(JobStatus.QUEUED, 0),
        ),
    ]
    config = session.get(PoolConfig, pool)
    if config is not None:
        families += _config_families(config)
    spend = GaugeMetricFamily(
        "aikings_spend_usd", "GPU spend in the current window.", labels=["window"]
    )
    for window, since in (("day", costs.day_start(now)), ("month", costs.month_start(now))):
        spent = billing.budget_spend_since(session, pool=pool, since=since)
        spend.add_metric([window], float(spent))
    epoch = session.exec(select(sa.func.max(SchedulerLock.epoch))).one()
    families += [
        spend,
        _job_durations(session),
        GaugeMetricFamily(
            "aikings_scheduler_leader_epoch",
            "Fencing epoch of the scheduler leader.",
            value=int(epoch or 0),
        ),
    ]
    return families


def _config_families(config: PoolConfig) -> list[Metric]:
    budget = GaugeMetricFamily("aikings_budget_usd", "Spend caps.", labels=["window"])
    budget.add_metric(["day"], float(config.daily_budget_usd))
    budget.add_metric(["month"], float(config.monthly_budget_usd))
    return [
        GaugeMetricFamily(
            "aikings_pool_desired_size",
            "Instances kept warm while awake.",
            value=config.desired_size,
        ),
        GaugeMetricFamily(
            "aikings_pool_safe_mode", "1 while safe mode is on.", value=int(config.safe_mode)
        ),
        budget,
    ]


def _job_durations(session: Session) -> SummaryMetricFamily:
    finished = session.exec(
        select(GenerationJob.started_at, GenerationJob.finished_at)
        .where(GenerationJob.status == JobStatus.SUCCEEDED)
        .order_by(col(GenerationJob.id).desc())
        .limit(RECENT_JOBS)
    ).all()
    durations_s = sorted((end - start).total_seconds() for start, end in finished if start and end)
    name = "aikings_job_duration_seconds"
    summary = SummaryMetricFamily(
        name,
        "Recent successful job durations.",
        count_value=len(durations_s),
        sum_value=sum(durations_s),
    )
    if durations_s:  # SummaryMetricFamily takes no quantiles: they are plain samples
        for quantile, index in (
            ("0.5", len(durations_s) // 2),
            ("0.95", min(len(durations_s) - 1, int(len(durations_s) * 0.95))),
        ):
            summary.samples.append(Sample(name, {"quantile": quantile}, durations_s[index]))
    return summary


@dataclass(frozen=True)
class SchedulerMetrics:
    """One scheduler process's registry: the pool collector and its reconcile counters."""

    registry: CollectorRegistry
    reconcile_ticks: Counter
    reconcile_errors: Counter


def scheduler_metrics(engine: Engine, clock: Clock, *, pool: str) -> SchedulerMetrics:
    """A registry of our own (never the global one) with the pool collector and counters at 0."""
    registry = CollectorRegistry()
    registry.register(PoolCollector(engine, clock, pool=pool))
    return SchedulerMetrics(
        registry=registry,
        reconcile_ticks=Counter(
            "aikings_reconcile_ticks", "Reconcile ticks run by this process.", registry=registry
        ),
        reconcile_errors=Counter(
            "aikings_reconcile_errors",
            "Provider errors seen while reconciling.",
            registry=registry,
        ),
    )

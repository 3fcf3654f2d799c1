"""The warm pool's value and safety, on fake time against the Vast simulator.

1. Warm vs cold: the same seeded day of Poisson demand served by a pool kept at
   `desired_size` 0 (every burst waits for a cold boot) and 1 (one GPU kept warm, asleep after
   15 idle minutes). Prints wait-to-start percentiles and GPU cost, and their ratios.
2. Fault campaign (issues 5 and 13): N seeded runs of provider faults, restarts, operator
   actions and jobs run by the real scheduler, with database faults (dropped statements,
   PostgreSQL connection kills of the scheduler's backends, lock storms on the balance, job
   and instance rows, the scheduler SIGKILLed mid-close), on SQLite and on PostgreSQL, spread
   over worker processes; sums instances leaked, double rentals, jobs lost, jobs stranded
   past two ticks once the faults stop, holds closed twice or never, credits unaccounted, and
   the ticks to converge.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bench.common import (
    Figure,
    parallel_map,
    percentile,
    postgres_url,
    row,
    scratch_engine,
    scratch_postgres,
)
from core.clock import FakeClock
from core.db import read_scope, session_scope
from core.pool import costs, leases
from sim.vast import Timings
from testing.factories import make_job, make_rentable_pool, make_user
from testing.pool_harness import STRANDED_TICKS, CampaignResult, PoolHarness, run_campaign
from testing.sims import vast_sim

TICK_S = 30
BOOT_S = 240  # a cold start when none was measured; W passes the one bench.cold_start measured
JOB_S = 30
WARM_WAIT_P50_GOAL_S = 60.0  # a warm GPU starts a job within two ticks
WAIT_RATIO_GOAL = 3.0  # keeping one GPU warm must cut the typical wait at least threefold
COST_RATIO_GOAL = 2.0  # ... for at most twice the GPU spend at this demand
CONVERGE_TICKS_GOAL = 2.0  # issue 5: state converges within two ticks


@dataclass(frozen=True)
class DayResult:
    """One simulated day: each job's wait to start (s), the GPU spend, the jobs that arrived."""

    waits: list[float]
    cost_usd: Decimal
    jobs: int


def _arrivals(seed: int, hours: float, per_hour: float) -> list[float]:
    rng = random.Random(seed)
    times, now = [], 0.0
    while True:
        now += rng.expovariate(per_hour / 3600)
        if now > hours * 3600:
            return times
        times.append(now)


def simulate_day(
    desired: int, seed: int, *, hours: float = 12, per_hour: float = 4, boot_s: float = BOOT_S
) -> DayResult:
    """Serve one seeded stream of jobs, each cold boot taking `boot_s`; waits are
    arrival-to-start, on 30 s ticks."""
    arrivals = _arrivals(seed, hours, per_hour)
    with scratch_engine() as engine:
        make_rentable_pool(
            engine,
            desired_size=desired,
            max_instances=3,
            idle_timeout_s=900,
            boot_timeout_s=900,
        )
        boot = Timings(null_s=20, created_s=40, loading_s=max(0.0, boot_s - 60))
        with vast_sim(seed=seed, timings=boot) as sim:
            harness = PoolHarness(engine, sim, FakeClock())
            start = harness.clock.now()
            try:
                waits = _serve(harness, arrivals, hours)
            finally:
                harness.close()
            with read_scope(engine) as session:
                spent = costs.spend_since(session, pool="default", since=start - timedelta(days=1))
    return DayResult(waits=waits, cost_usd=spent, jobs=len(arrivals))


def _serve(harness: PoolHarness, arrivals: list[float], hours: float) -> list[float]:
    """Tick through the day: queue arrivals, finish jobs, lease free instances in order."""
    engine, clock = harness.engine, harness.clock
    user = make_user(engine)
    pending = list(arrivals)
    waiting: list[tuple[float, int]] = []  # (arrival time, job id)
    running: list[tuple[float, int]] = []  # (finish time, lease id)
    waits: list[float] = []
    elapsed = 0.0
    while (elapsed < hours * 3600 + 3600 or waiting or running) and elapsed <= hours * 3600 * 3:
        while pending and pending[0] <= elapsed:
            job = make_job(engine, user)
            waiting.append((pending.pop(0), job.id or 0))
            with session_scope(engine) as session:
                leases.note_demand(session, pool="default", now=clock.now())
        for finish, lease_id in [r for r in running if r[0] <= elapsed]:
            running.remove((finish, lease_id))
            with session_scope(engine) as session:
                leases.release(session, lease_id=lease_id, now=clock.now(), outcome="succeeded")
        harness.queued = len(waiting)
        harness.tick(TICK_S)
        elapsed += TICK_S
        for arrival, job_id in list(waiting):
            with session_scope(engine) as session:
                claim = leases.acquire(session, pool="default", job_id=job_id, now=clock.now())
            if claim is None:
                break
            waiting.remove((arrival, job_id))
            waits.append(elapsed - arrival)
            running.append((elapsed + JOB_S, claim.lease_id))
    return waits


def _all_waits(days: list[DayResult]) -> list[float]:
    return [wait for day in days for wait in day.waits]


def _total_cost(days: list[DayResult]) -> Decimal:
    return sum((day.cost_usd for day in days), Decimal(0))


@dataclass(frozen=True)
class WarmColdResult:
    """Days served by a cold pool (`desired_size` 0) and a warm one (1), same demand."""

    cold: list[DayResult]
    warm: list[DayResult]

    @property
    def cost_ratio(self) -> float:
        """Warm GPU spend over cold GPU spend (inf when the cold pool spent nothing)."""
        cold = _total_cost(self.cold)
        return float(_total_cost(self.warm) / cold) if cold else float("inf")

    def figures(self) -> list[Figure]:
        """Warm wait p50, cold/warm wait ratio and the warm pool's cost ratio, with goals."""
        warm_p50 = percentile(_all_waits(self.warm), 50)
        cold_p50 = percentile(_all_waits(self.cold), 50)
        return [
            Figure("W", "warm pool: wait-to-start p50", warm_p50, "s", "<=", WARM_WAIT_P50_GOAL_S),
            Figure(
                "W",
                "cold/warm wait-to-start p50",
                cold_p50 / max(warm_p50, 1.0),
                "x",
                ">=",
                WAIT_RATIO_GOAL,
            ),
            Figure("W", "warm/cold GPU cost", self.cost_ratio, "x", "<=", COST_RATIO_GOAL),
        ]


def _day(plan: tuple[int, int, float, float]) -> DayResult:
    desired, seed, hours, boot_s = plan
    return simulate_day(desired, seed, hours=hours, boot_s=boot_s)


def warm_vs_cold(
    seeds: int = 3, hours: float = 12, workers: int = 1, boot_s: float = BOOT_S
) -> WarmColdResult:
    """Serve `seeds` seeded days of demand with `desired_size` 0 and 1, cold boots taking
    `boot_s`; print and return them."""
    plans = [(desired, seed, hours, boot_s) for desired in (0, 1) for seed in range(seeds)]
    days = parallel_map(_day, plans, workers)
    result = WarmColdResult(cold=days[:seeds], warm=days[seeds:])
    print(
        f"\n== Warm pool vs cold start ({hours:g} h of Poisson demand x {seeds} seeds, "
        f"4 jobs/h, {JOB_S} s jobs) =="
    )
    print(row("pool", "jobs", "wait p50 s", "wait p95 s", "GPU $"))
    for name, served in (
        ("desired_size=0 (cold)", result.cold),
        ("desired_size=1 (warm)", result.warm),
    ):
        waits = _all_waits(served)
        print(
            row(
                name,
                sum(day.jobs for day in served),
                f"{percentile(waits, 50):.0f}",
                f"{percentile(waits, 95):.0f}",
                f"{_total_cost(served):.2f}",
            )
        )
    print(f"(ticks are {TICK_S} s, so waits are quantised to {TICK_S} s; cold boot {boot_s:.0f} s)")
    return result


DATABASES = ("sqlite", "postgresql")


def campaign_run(plan: tuple[str, int]) -> CampaignResult:
    """One seeded fault campaign with jobs and database faults on its own database (SQLite,
    or PostgreSQL on `postgres_url()`) and simulator."""
    database, seed = plan
    if database == "sqlite":
        scratch = scratch_engine()
    else:
        url = postgres_url()
        assert url is not None, "a PostgreSQL run needs BENCH_DATABASE_URL or TEST_DATABASE_URL"
        scratch = scratch_postgres(url)
    with scratch as engine:
        make_rentable_pool(
            engine,
            boot_timeout_s=600,
        )
        with vast_sim(seed=seed) as sim:
            harness = PoolHarness(engine, sim, FakeClock())
            try:
                return run_campaign(harness, seed, with_jobs=True, db_faults=True)
            finally:
                harness.close()


COUNTERS = (
    ("leaked", "instances leaked"),
    ("duplicate_labels", "instances rented twice"),
    ("ghosts", "rows for instances that are gone"),
    ("jobs_lost", "jobs neither finished nor refunded"),
    ("stranded", f"jobs stranded > {STRANDED_TICKS} ticks after faults"),
    ("double_settlements", "credit holds closed twice or never"),
    ("ledger_drift", "credits unaccounted for"),
    ("internal_errors", 'jobs failed "internal error"'),
    ("errors_after_faults", "scheduler errors outside faults"),
)


@dataclass(frozen=True)
class CampaignSummary:
    """What `runs` seeded fault campaigns ended with, summed, on one database."""

    results: list[CampaignResult]
    elapsed_s: float
    database: str = "sqlite"

    def total(self, field_name: str) -> int:
        """The sum of one CampaignResult counter over every run."""
        return sum(int(getattr(result, field_name)) for result in self.results)

    @property
    def converge_ticks(self) -> list[int]:
        """Ticks each run took to converge once the provider calmed down."""
        return [result.converge_ticks for result in self.results]

    def figures(self) -> list[Figure]:
        """Every money-safety counter against zero, and convergence against its goal."""
        runs = len(self.results)
        return [
            *(
                Figure(
                    "F", f"{self.database}: {what} ({runs:,} runs)", self.total(name), "", "==", 0
                )
                for name, what in COUNTERS
            ),
            Figure(
                "F",
                f"{self.database}: ticks to converge after calm, p95 ({self.total('jobs'):,} jobs)",
                percentile(self.converge_ticks, 95),
                "ticks",
                "<=",
                CONVERGE_TICKS_GOAL,
            ),
        ]

    def print(self, workers: int) -> None:
        """The section's detail lines for this database."""
        runs = len(self.results)
        print(
            f"\n== Fault campaign on {self.database}: {runs:,} seeded runs x 40 steps with jobs "
            f"and database faults ({workers} worker(s), {self.elapsed_s:.0f} s) =="
        )
        print(
            f"database faults: {self.total('db_faults')} (dropped statements, connection kills, "
            f"lock storms)   scheduler SIGKILLed mid-close: {self.total('mid_close_kills')}"
        )
        print(
            f"instances leaked: {self.total('leaked')}   "
            f"double rentals: {self.total('duplicate_labels')}   "
            f"ghost rows: {self.total('ghosts')}"
        )
        print(
            f"jobs: {self.total('jobs')}   lost: {self.total('jobs_lost')}   "
            f"stranded > {STRANDED_TICKS} ticks after faults: {self.total('stranded')}   "
            f"holds closed twice or never: {self.total('double_settlements')}   "
            f"credits unaccounted: {self.total('ledger_drift')}   "
            f"failed as internal errors: {self.total('internal_errors')}   "
            f"errors outside faults: {self.total('errors_after_faults')}"
        )
        converge = self.converge_ticks
        print(
            f"ticks to converge after calm: p50 {percentile(converge, 50):.0f}, "
            f"p95 {percentile(converge, 95):.0f}, max {max(converge, default=0)}"
        )
        bad = [r.seed for r in self.results if any(getattr(r, n) for n, _w in COUNTERS)]
        if bad:
            print(f"seeds with a nonzero counter: {bad[:20]}")


def fault_campaign(runs: int = 1000, workers: int = 1, database: str = "sqlite") -> CampaignSummary:
    """Run `runs` seeded fault campaigns on `database` over `workers` processes; print and
    return the sums."""
    started = time.perf_counter()
    results = parallel_map(campaign_run, [(database, seed) for seed in range(runs)], workers)
    summary = CampaignSummary(results, time.perf_counter() - started, database)
    summary.print(workers)
    return summary


def fault_campaigns(runs: int, workers: int) -> list[Figure]:
    """The fault campaign on SQLite and on PostgreSQL (when `postgres_url()` names a server;
    else a line saying how to include it, and a figure that is not met)."""
    figures = fault_campaign(runs, workers, "sqlite").figures()
    if postgres_url() is None:
        print(
            "\n== Fault campaign on postgresql: not run (set BENCH_DATABASE_URL or "
            "TEST_DATABASE_URL to a server where databases may be created) =="
        )
        return [*figures, Figure("F", "postgresql: campaign runs", 0, "", ">=", 1)]
    return [*figures, *fault_campaign(runs, workers, "postgresql").figures()]

"""The warm pool's value and safety, on fake time against the Vast simulator.

1. Warm vs cold: the same seeded day of Poisson demand served by a pool kept at
   `desired_size` 0 (every burst waits for a cold boot) and 1 (one GPU kept warm, asleep after
   15 idle minutes). Prints wait-to-start percentiles and GPU cost, and their ratios.
2. Fault campaign: N seeded runs of faults, restarts and operator actions; prints instances
   leaked, double rentals and convergence ticks.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bench.common import percentile, row, scratch_engine
from core.clock import FakeClock
from core.db import read_scope, session_scope
from core.pool import costs, leases
from sim.vast import Timings
from tests.factories import make_job, make_pool, make_user
from tests.pool_harness import PoolHarness, run_campaign
from tests.sims import vast_sim

TICK_S = 30
BOOT_S = 240  # a realistic cold start: image pull + model load (3-5 min in production)
JOB_S = 30


@dataclass
class DayResult:
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


def simulate_day(desired: int, seed: int, *, hours: float = 12, per_hour: float = 4) -> DayResult:
    """Serve one seeded stream of jobs; waits are arrival-to-start, on 30 s ticks."""
    engine = scratch_engine()
    clock = FakeClock()
    make_pool(
        engine,
        desired_size=desired,
        max_instances=3,
        idle_timeout_s=900,
        max_price_per_hour_usd=Decimal("5"),
        min_reliability=0.9,
        min_vram_gb=8,
        boot_timeout_s=900,
    )
    user = make_user(engine)
    boot = Timings(null_s=20, created_s=40, loading_s=BOOT_S - 60)
    arrivals = _arrivals(seed, hours, per_hour)
    waiting: list[tuple[float, int]] = []
    running: list[tuple[float, int]] = []  # (finish time, lease id)
    waits: list[float] = []
    with vast_sim(seed=seed, timings=boot) as sim:
        harness = PoolHarness(engine, sim, clock)
        start = clock.now()
        elapsed = 0.0
        pending = list(arrivals)
        while elapsed < hours * 3600 + 3600 or waiting or running:
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
                    claim = leases.acquire(
                        session, pool="default", job_id=job_id, now=clock.now(), lease_max_s=1800
                    )
                if claim is None:
                    break
                waiting.remove((arrival, job_id))
                waits.append(elapsed - arrival)
                running.append((elapsed + JOB_S, claim.lease_id))
            if elapsed > hours * 3600 * 3:
                break
        with read_scope(engine) as session:
            spent = costs.spend_since(session, pool="default", since=start - timedelta(days=1))
        harness.close()
    return DayResult(waits=waits, cost_usd=spent, jobs=len(arrivals))


def warm_vs_cold(seeds: int) -> None:
    """Print wait percentiles and cost for desired_size 0 vs 1 over `seeds` seeded days."""
    results = {0: [], 1: []}
    for seed in range(seeds):
        for desired in results:
            results[desired].append(simulate_day(desired, seed))
    print("\n== Warm pool vs cold start (12 h of Poisson demand, 4 jobs/h, 30 s jobs) ==")
    print(row("pool", "jobs", "wait p50 s", "wait p95 s", "GPU $"))
    summary = {}
    for desired, days in results.items():
        waits = [w for day in days for w in day.waits]
        cost = sum((day.cost_usd for day in days), Decimal(0))
        summary[desired] = (percentile(waits, 50), percentile(waits, 95), cost)
        print(
            row(
                f"desired_size={desired}",
                sum(d.jobs for d in days),
                f"{summary[desired][0]:.0f}",
                f"{summary[desired][1]:.0f}",
                f"{cost:.2f}",
            )
        )
    cold, warm = summary[0], summary[1]
    print(
        f"wait p50 ratio cold/warm: {cold[0] / max(warm[0], 1):.1f}x; "
        f"p95 ratio: {cold[1] / max(warm[1], 1):.1f}x; "
        f"cost ratio warm/cold: {float(warm[2] / cold[2]) if cold[2] else float('inf'):.2f}x"
    )
    print(f"(ticks are {TICK_S} s, so waits are quantised to {TICK_S} s; cold boot {BOOT_S} s)")


def fault_campaign(seeds: int) -> None:
    """Print leak figures over `seeds` seeded fault campaigns."""
    leaked = duplicates = ghosts = jobs = lost = double = drift = 0
    converge = []
    for seed in range(seeds):
        engine = scratch_engine()
        make_pool(
            engine,
            max_price_per_hour_usd=Decimal("5"),
            min_reliability=0.9,
            min_vram_gb=8,
            boot_timeout_s=600,
        )
        with vast_sim(seed=seed) as sim:
            harness = PoolHarness(engine, sim, FakeClock())
            result = run_campaign(harness, seed, with_jobs=True)
            harness.close()
        leaked += result.leaked
        duplicates += result.duplicate_labels
        ghosts += result.ghosts
        jobs += result.jobs
        lost += result.jobs_lost
        double += result.double_settlements
        drift += result.ledger_drift
        converge.append(result.converge_ticks)
    print(f"\n== Fault campaign: {seeds} seeded runs x 40 steps ==")
    print(f"instances leaked: {leaked}   double rentals: {duplicates}   ghost rows: {ghosts}")
    print(
        f"jobs: {jobs}   lost: {lost}   holds closed twice or never: {double}   "
        f"credits unaccounted: {drift}"
    )
    print(
        f"ticks to converge after calm: p50 {percentile(converge, 50):.0f}, "
        f"p95 {percentile(converge, 95):.0f}, max {max(converge)}"
    )


def main(seeds: int = 3, campaign_seeds: int = 200) -> None:
    """Run both pool benchmarks."""
    logging.disable(logging.WARNING)
    warm_vs_cold(seeds)
    fault_campaign(campaign_seeds)

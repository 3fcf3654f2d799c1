"""Bench S: would a stopped tier (stop idle GPUs, start them again on demand) beat fresh boots?

Vast can stop an instance: the GPU is released, the disk (image and models) is kept and billed.
A later start brings it back on the same machine in about `restart_s` instead of a cold boot,
unless someone else rented the GPU meanwhile, in which case the start never completes
(`sim.vast.instance`, VAST.md §1.9). This replays P2's demand traces through the real
`core.pool.policy.plan()` with the adaptive knobs, once as today (every idle instance
destroyed, every rental a cold boot) and once with a stopped tier in the provider model:

- an instance the plan terminates for idleness or surplus is stopped instead (at most
  `MAX_INSTANCES` stopped at once), and destroyed once stopped longer than `park_max`;
- a rental the plan asks for starts the most recently stopped instance instead; it runs after
  `restart_s`, or, with the simulator's probability that its GPU was taken
  (`gpu_taken_probability`), stays stopped and is destroyed at the restart deadline and
  replaced by a fresh rental (never waited on);
- the GPU bills from each rental or start to each stop or destroy, at the market's median
  `dph_total`; a stopped instance bills its disk (the pool's `disk_gb`) at the market's
  median `storage_cost`.

How fast a freed GPU is rented by someone else is not documented anywhere we could read, so
the table varies it (half-life 30 min, 2 h, 8 h) with the longest stop kept (1 h, 6 h, 24 h).
The figures compare the best stopped-tier variant at the middle assumption with fresh boots.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.common import Figure, percentile, row
from bench.pool import BOOT_S
from bench.pool_policy import (
    MAX_INSTANCES,
    TRACES,
    Knobs,
    Outcome,
    Trace,
    _Replay,
    adaptive_knobs,
    make_trace,
    replay,
    sim_price_per_hour_usd,
)
from core.models import InstanceState, PoolConfig
from core.pool import adaptive
from core.pool.actions import Rent, Terminate
from sim.vast import Timings, VastState
from sim.vast.instance import gpu_taken_probability
from sim.vast.market import HOURS_PER_MONTH

HALF_LIVES_S = (1800.0, 7200.0, 28800.0)
"""How long a released GPU stays free with even odds: the assumption varied."""
CENTRAL_HALF_LIFE_S = 7200.0
PARK_MAX = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))
RESTART_DEADLINE_S = 90.0
"""A start not running after this long is destroyed and replaced: Vast's docs say a start
stuck "Scheduling" for more than 30 s has most likely lost its GPU (VAST.md §1.9)."""
SLOW_RESTART_S = 120.0
"""A restart that re-checks ~20 GB of models (size and sha256) before ComfyUI starts."""
IDLE_REASONS = ("idle:", "surplus")
WIDTHS = (30, 11, 8, 6, 7, 7, 10, 12, 11, 8)


@dataclass(frozen=True)
class Tier:
    """One stopped-tier variant: the world's assumption and the pool's limit."""

    half_life_s: float
    park_max: timedelta
    restart_s: float
    storage_per_hour_usd: Decimal

    @property
    def name(self) -> str:
        """E.g. `stop <=6h, GPU t½ 2h`."""
        return (
            f"stop <={_hours(self.park_max.total_seconds())}, GPU t½ {_hours(self.half_life_s)}, "
            f"{self.restart_s:g} s"
        )


@dataclass
class _Stopped:
    """A stopped instance: when it stopped (its storage billed from then)."""

    stopped_at: datetime


@dataclass
class _Start:
    """A start in progress: when it was asked, when it runs (None: its GPU was taken)."""

    at: datetime
    running_at: datetime | None


@dataclass
class TierReplay(_Replay):
    """P2's provider model with stop and start in place of destroy and rent (module doc)."""

    tier: Tier | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    stopped: dict[int, _Stopped] = field(default_factory=dict)
    starts: dict[int, _Start] = field(default_factory=dict)
    storage_s: float = 0.0
    fresh_replacements: int = 0
    resumed: int = 0
    resume_failed: int = 0

    def tick(self, now: datetime) -> None:
        """Destroy stopped instances kept too long and starts past their deadline, then plan."""
        assert self.tier is not None
        for instance_id, held in list(self.stopped.items()):
            if now - held.stopped_at >= self.tier.park_max:
                self._bill_storage(held.stopped_at, now)
                del self.stopped[instance_id]
        deadline = timedelta(seconds=RESTART_DEADLINE_S)
        for instance_id, start in list(self.starts.items()):
            if start.running_at is None and now - start.at >= deadline:
                # Never waited on: destroyed, and the rental the plan asks for next is fresh.
                self._bill_storage(start.at, now)
                del self.starts[instance_id], self.rows[instance_id]
                self.rented_at.pop(instance_id)
                self.resume_failed += 1
                self.fresh_replacements += 1
        super().tick(now)

    def _booted(self, instance_id: int, now: datetime) -> bool:
        start = self.starts.get(instance_id)
        if start is None:
            return super()._booted(instance_id, now)
        return start.running_at is not None and now >= start.running_at

    def _execute(self, action: object, now: datetime) -> None:
        match action:
            case Terminate(instance_id=instance_id, reason=reason) if self._can_stop(
                instance_id, reason
            ):
                self._stop(instance_id, now)
            case Rent(count=count):
                for _ in range(count):
                    if self.fresh_replacements > 0:
                        self.fresh_replacements -= 1
                        super()._execute(Rent(1, "replaces a start that lost its GPU"), now)
                    elif self.stopped:
                        self._start_stopped(now)
                    else:
                        super()._execute(Rent(1, "nothing stopped to start"), now)
            case Terminate(instance_id=instance_id):
                start = self.starts.pop(instance_id, None)
                if start is not None and start.running_at is None:
                    self._bill_storage(start.at, now)  # scheduling bills no GPU
                    self.rented_at[instance_id] = now
                super()._execute(action, now)
            case _:
                super()._execute(action, now)

    def _can_stop(self, instance_id: int, reason: str) -> bool:
        return self.rows[instance_id].state is InstanceState.READY and reason.startswith(
            IDLE_REASONS
        )

    def _stop(self, instance_id: int, now: datetime) -> None:
        """Stop instead of destroy; past `MAX_INSTANCES` stopped, the oldest is destroyed."""
        if len(self.stopped) >= MAX_INSTANCES:
            oldest = min(self.stopped, key=lambda i: self.stopped[i].stopped_at)
            self._bill_storage(self.stopped.pop(oldest).stopped_at, now)
        self._bill(instance_id, now)
        self.starts.pop(instance_id, None)
        del self.rows[instance_id]
        self.stopped[instance_id] = _Stopped(now)

    def _start_stopped(self, now: datetime) -> None:
        """Start the most recently stopped instance; the dice say whether its GPU is free."""
        assert self.tier is not None
        instance_id = max(self.stopped, key=lambda i: self.stopped[i].stopped_at)
        held = self.stopped.pop(instance_id)
        self._bill_storage(held.stopped_at, now)
        stopped_s = (now - held.stopped_at).total_seconds()
        taken = self.rng.random() < gpu_taken_probability(stopped_s, self.tier.half_life_s)
        running_at = None if taken else now + timedelta(seconds=self.tier.restart_s)
        self.starts[instance_id] = _Start(now, running_at)
        self._boot(instance_id, now)
        self.resumed += 0 if taken else 1

    def _bill_storage(self, start: datetime, end: datetime) -> None:
        begin, finish = max(start, self.report_from), min(end, self.report_until)
        self.storage_s += max(0.0, (finish - begin).total_seconds())

    def storage_usd(self) -> Decimal:
        """What the stopped instances' disks cost over the report window so far."""
        assert self.tier is not None
        return Decimal(str(self.storage_s)) * self.tier.storage_per_hour_usd / 3600

    def close(self) -> Decimal:
        """GPU and storage cost over the report window."""
        for held in self.stopped.values():
            self._bill_storage(held.stopped_at, self.report_until)
        self.stopped.clear()
        return super().close() + self.storage_usd()


# ---- the comparison -------------------------------------------------------------------------


@dataclass(frozen=True)
class TierOutcome:
    """One replay: the P2 outcome, plus what the stopped tier did."""

    name: str
    outcome: Outcome
    storage_usd: Decimal = Decimal(0)
    resumed: int = 0
    resume_failed: int = 0

    def total_usd(self, wait_value_per_hour_usd: Decimal) -> Decimal:
        """GPU and disk, plus the users' waiting valued as the adaptive policy values it."""
        return self.outcome.total_usd(wait_value_per_hour_usd)


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:g}h" if hours >= 1 else f"{seconds / 60:g}min"


def market_storage_per_hour_usd(disk_gb: int, seed: int = 0) -> Decimal:
    """What `disk_gb` of disk costs per hour at the simulator market's median storage price."""
    market = VastState(seed=seed).market.offers.values()
    per_gb_month = statistics.median(offer["storage_cost"] for offer in market)
    return (Decimal(str(per_gb_month)) * disk_gb / HOURS_PER_MONTH).quantize(Decimal("0.000001"))


def tier_model(tier: Tier, seed: int) -> tuple[Callable[..., TierReplay], list[TierReplay]]:
    """A `pool_model` for `pool_policy.replay` with `tier`, and the list it appends each
    pool it builds to (so the caller can read what the tier did)."""
    built: list[TierReplay] = []

    def model(*args: Any) -> TierReplay:
        pool = TierReplay(*args, tier=tier, rng=random.Random(seed))
        built.append(pool)
        return pool

    return model, built


def compare(
    trace: Trace, seed: int, price_per_hour_usd: Decimal, tiers: list[Tier]
) -> list[TierOutcome]:
    """Fresh boots, then every stopped-tier variant, on `trace` with the adaptive knobs."""
    defaults = PoolConfig(name="bench")
    costs = adaptive.Costs(
        price_per_hour_usd=price_per_hour_usd,
        boot_s=float(BOOT_S),
        wait_value_per_hour_usd=defaults.wait_value_per_hour_usd,
    )

    def knobs() -> Knobs:
        return adaptive_knobs(trace, costs, defaults.idle_timeout_s)

    fresh = replay(trace, "fresh boots", knobs(), price_per_hour_usd)
    outcomes = [TierOutcome("fresh boots (today)", fresh)]
    for tier in tiers:
        model, built = tier_model(tier, seed)
        outcome = replay(trace, tier.name, knobs(), price_per_hour_usd, pool_model=model)
        [pool] = built
        outcomes.append(
            TierOutcome(tier.name, outcome, pool.storage_usd(), pool.resumed, pool.resume_failed)
        )
    return outcomes


def print_table(trace: Trace, outcomes: list[TierOutcome], wait_value: Decimal) -> None:
    """One table per trace: costs, waits, starts, and GPU+wait against fresh boots."""
    fresh = outcomes[0].total_usd(wait_value)
    days = (trace.report_until - trace.report_from).days
    print(f"\n== {trace.name}: {len(outcomes[0].outcome.waits_s)} jobs, last {days} days ==")
    print(row("strategy", "GPU+disk $", "disk $", "cold", "p50 s", "p95 s", "starts ok",
              "starts lost", "GPU+wait $", "x fresh", widths=WIDTHS))  # fmt: skip
    for result in outcomes:
        waits = result.outcome.waits_s
        total = result.total_usd(wait_value)
        print(
            row(
                result.name,
                f"{result.outcome.cost_usd:.2f}",
                f"{result.storage_usd:.2f}",
                result.outcome.cold_starts,
                f"{percentile(waits, 50):.0f}",
                f"{percentile(waits, 95):.0f}",
                result.resumed,
                result.resume_failed,
                f"{total:.2f}",
                f"{total / fresh:.2f}" if fresh else "-",
                widths=WIDTHS,
            )
        )


def tiers(restart_s: float, storage_per_hour_usd: Decimal) -> list[Tier]:
    """Every assumption about the GPU market with every limit on how long one stays stopped,
    then the middle assumption with a slow restart (the models re-verified on every start)."""
    return [
        *(
            Tier(half_life_s, park_max, restart_s, storage_per_hour_usd)
            for half_life_s in HALF_LIVES_S
            for park_max in PARK_MAX
        ),
        *(
            Tier(CENTRAL_HALF_LIFE_S, park_max, SLOW_RESTART_S, storage_per_hour_usd)
            for park_max in PARK_MAX
        ),
    ]


def main(quick: bool = False) -> list[Figure]:
    """Replay P2's traces with and without a stopped tier; per trace, the best variant's
    GPU+wait against fresh boots at the middle assumption (below 1: the tier wins)."""
    price = sim_price_per_hour_usd()
    config = PoolConfig(name="bench")
    wait_value = config.wait_value_per_hour_usd
    storage = market_storage_per_hour_usd(config.disk_gb)
    restart_s = Timings().restart_s
    history_days, report_days = (14, 2) if quick else (28, 7)
    variants = tiers(restart_s, storage)
    if quick:  # the middle assumption only
        variants = [
            t for t in variants if t.half_life_s == CENTRAL_HALF_LIFE_S and t.restart_s == restart_s
        ]
    print(
        f"\n== Stopped tier vs fresh boots: ${price}/h GPU, ${storage}/h for a stopped "
        f"{config.disk_gb} GB disk, {BOOT_S} s cold boot, {restart_s:g} s restart, a start "
        f"not running after {RESTART_DEADLINE_S:g} s replaced; waiting valued at ${wait_value}/h =="
    )
    figures, summary = [], []
    for seed, name in enumerate(TRACES):
        trace = make_trace(name, seed, history_days=history_days, report_days=report_days)
        outcomes = compare(trace, seed, price, variants)
        print_table(trace, outcomes, wait_value)
        fresh = outcomes[0].total_usd(wait_value)
        central = [
            o for o, t in zip(outcomes[1:], variants, strict=True)
            if t.half_life_s == CENTRAL_HALF_LIFE_S and t.restart_s == restart_s
        ]  # fmt: skip
        best = min(central, key=lambda o: o.total_usd(wait_value))
        ratio = float(best.total_usd(wait_value) / fresh)
        figures.append(
            Figure("T", f"{name}: stopped tier GPU+wait / fresh boots", ratio, "x", "<=", 1.0)
        )
        summary.append(f"{name}: best at GPU t½ 2h is {best.name}: {ratio:.2f}x fresh boots")
    print("\nStopped tier at the middle assumption (below 1.00x it beats fresh boots):")
    for line in summary:
        print(f"  {line}")
    return figures

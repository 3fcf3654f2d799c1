"""Warm-pool policies replayed on demand traces: GPU cost, cold starts and waits vs the optimum.

Three seeded traces of several weeks each (office-hours bursts, sparse evening use, steady
load) are replayed through the real `core.pool.policy.plan()` on fake time at 30 s ticks. The
provider is a small in-process model with the simulator's cold boot (`bench.pool.BOOT_S`) and
a typical price from its offer market: an instance bills from its rental to its destroy and is
ready `BOOT_S` after the rental (the policy sees it at the next tick). Jobs are dispatched as
soon as a ready instance is free, warmest first, like `core.pool.leases.acquire`.

Four traces: office-hours bursts, sparse evening use, steady load, and a daily cycle with
day-to-day noise and heavy-tailed gaps. Strategies: always-on, the old fixed 15-minute idle
timeout, a short 3-minute one, the deterministic break-even rule (idle as long as a cold start
costs), the best fixed timeout in hindsight (the cheapest of `FIXED_GRID_S` on the reported
window, GPU plus waiting), the adaptive policy (`core.pool.adaptive.advise`, learning from
every submission before the tick, the profile relearnt hourly as the manager does), and two
optima that know every arrival: without prewarm (per gap, idle through it or pay a cold
start) and with foresight (no waits, `min(gap, BOOT_S)` per gap on each level of concurrency).
Only the last week (two days with `quick`) is reported; the weeks before are the history the
adaptive policy learns from, and are not charged to it.

The no-prewarm optimum bills a cold start's boot and the job's run after it, and a GPU rented
for a job is ready a boot later: a job arriving meanwhile on its level waits for it (it was
once taken to find that GPU warm at once, and the job after a boot to run unbilled).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import statistics
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.common import Figure, percentile, row
from bench.pool import BOOT_S, TICK_S
from core.clock import FakeClock
from core.models import InstanceState, PoolConfig
from core.pool import adaptive
from core.pool.actions import ConfirmTerminated, MarkReady, Rent, Terminate
from core.pool.policy import InstanceView, LeaseView, PoolSettings, PoolView, plan
from core.pool.provider import RemoteInstance, RemoteState
from core.pool.sweeps import Observation, Sweep
from sim.vast import VastState

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
PREFIX = "aik-bench-"
MAX_INSTANCES = 4
RELEARN = timedelta(hours=1)
WARMUP = timedelta(hours=1)
WIDTHS = (32, 10, 10, 8, 11, 11, 12)


@dataclass(frozen=True)
class Job:
    """One submission: when it arrives and how long it runs once it has a GPU."""

    at: datetime
    run_s: float


@dataclass(frozen=True)
class Trace:
    """A demand trace and the part of it that is reported."""

    name: str
    jobs: tuple[Job, ...]
    report_from: datetime
    report_until: datetime


@dataclass
class Outcome:
    """What one strategy did over a trace's reported window."""

    strategy: str
    cost_usd: Decimal
    cold_starts: int
    waits_s: list[float]

    def wait_cost_usd(self, wait_value_per_hour_usd: Decimal) -> Decimal:
        """The users' waiting, valued as the adaptive policy values it."""
        return Decimal(str(sum(self.waits_s))) * wait_value_per_hour_usd / 3600

    def total_usd(self, wait_value_per_hour_usd: Decimal) -> Decimal:
        """GPU cost plus the users' waiting: what every P2 ratio compares."""
        return self.cost_usd + self.wait_cost_usd(wait_value_per_hour_usd)


# ---- traces ---------------------------------------------------------------------------------


def _session(rng: random.Random, start: datetime, jobs: int, gap_s: float) -> Iterator[Job]:
    """A user's sitting: `jobs` submissions with exponential gaps, now and then a longer pause."""
    at = start
    for _ in range(jobs):
        yield Job(at, rng.uniform(25, 75))
        pause = rng.expovariate(1 / gap_s) + (rng.uniform(300, 600) if rng.random() < 0.1 else 0)
        at += timedelta(seconds=45 + pause)


def office_hours(seed: int, days: int) -> list[Job]:
    """A small team on weekdays: sittings start mostly 09:00-12:00 and 13:30-17:30 UTC."""
    rng = random.Random(seed)
    jobs: list[Job] = []
    for day in range(days):
        midnight = EPOCH + timedelta(days=day)
        weekday = midnight.weekday() < 5
        for start_h, end_h, per_hour in ((9, 12, 2.5), (13.5, 17.5, 2.0), (8, 19, 0.3)):
            rate = per_hour if weekday else per_hour * 0.05
            hour = start_h + rng.expovariate(rate)
            while hour < end_h:
                start = midnight + timedelta(hours=hour)
                jobs.extend(_session(rng, start, rng.randint(2, 9), gap_s=70))
                hour += rng.expovariate(rate)
    return jobs


def sparse_evening(seed: int, days: int) -> list[Job]:
    """A hobbyist: on most evenings one sitting between 19:00 and 22:30 UTC, none on others."""
    rng = random.Random(seed)
    jobs: list[Job] = []
    for day in range(days):
        if rng.random() < 0.7:
            start = EPOCH + timedelta(days=day, hours=rng.uniform(19, 22.5))
            jobs.extend(_session(rng, start, rng.randint(3, 18), gap_s=100))
    return jobs


def steady(seed: int, days: int) -> list[Job]:
    """Many independent users around the clock: Poisson arrivals, 10 an hour."""
    rng = random.Random(seed)
    jobs, at, until = [], EPOCH, EPOCH + timedelta(days=days)
    while (at := at + timedelta(seconds=rng.expovariate(10 / 3600))) < until:
        jobs.append(Job(at, rng.uniform(25, 75)))
    return jobs


def noisy_daily(seed: int, days: int) -> list[Job]:
    """A community across time zones: sittings follow a daily cycle (a quiet night, an evening
    peak), each day's volume is scaled by log-normal noise, and the gaps inside a sitting are
    heavy-tailed (Pareto, shape 1.5: mostly a minute, now and then half an hour)."""
    rng = random.Random(seed)
    jobs: list[Job] = []
    for day in range(days):
        midnight = EPOCH + timedelta(days=day)
        volume = rng.lognormvariate(0, 0.5)
        for hour in range(24):
            cycle = 0.15 + 0.85 * max(0.0, math.sin(math.pi * (hour - 6) / 18)) ** 2
            for _ in range(_poisson(rng, 1.6 * cycle * volume)):
                at = midnight + timedelta(hours=hour + rng.random())
                for _ in range(rng.randint(1, 10)):
                    jobs.append(Job(at, rng.uniform(20, 70)))
                    at += timedelta(seconds=min(40 * rng.paretovariate(1.5), 3 * 3600))
    return jobs


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


TRACES: dict[str, Callable[[int, int], list[Job]]] = {
    "office-hours bursts": office_hours,
    "sparse evening use": sparse_evening,
    "steady load": steady,
    "noisy daily cycle, heavy tails": noisy_daily,
}


def make_trace(name: str, seed: int, *, history_days: int, report_days: int) -> Trace:
    """Trace `name` generated from `seed`: `history_days` to learn from, then the reported days."""
    days = history_days + report_days
    jobs = sorted(TRACES[name](seed, days), key=lambda job: job.at)
    report_from = EPOCH + timedelta(days=history_days)
    return Trace(name, tuple(jobs), report_from, EPOCH + timedelta(days=days))


# ---- strategies -----------------------------------------------------------------------------

Knobs = Callable[[datetime, datetime | None], adaptive.Advice]
"""(now, last demand) -> what the policy gets this tick, as the manager hands it an adaptive
pool's advice: the idle timeout, prewarm, extra instances' idle timeout and queue rule."""


def fixed_idle(idle_timeout_s: int) -> Knobs:
    """The configured timeout for every instance, no prewarm."""
    advice = adaptive.Advice(idle_timeout_s, None, f"fixed {idle_timeout_s} s")
    return lambda _now, _last: advice


def always_on(_now: datetime, _last: datetime | None) -> adaptive.Advice:
    """Awake for ever: a prewarm that never ends."""
    return adaptive.Advice(900, datetime.max.replace(tzinfo=UTC), "always on")


def adaptive_knobs(trace: Trace, costs: adaptive.Costs, fallback_idle_s: int) -> Knobs:
    """`core.pool.adaptive.advise` on every submission before now, relearnt every `RELEARN`
    as the manager does: it never sees an arrival at or after `now`."""
    arrivals = [job.at for job in trace.jobs]
    learnt: list[tuple[datetime, adaptive.DemandProfile | None]] = []

    def knobs(now: datetime, last: datetime | None) -> adaptive.Advice:
        if not learnt or now - learnt[0][0] >= RELEARN:
            learnt[:] = [(now, adaptive.learn(arrivals[: bisect_left(arrivals, now)], now, costs))]
        return adaptive.advise(
            learnt[0][1], costs, now=now, last_demand_at=last, fallback_idle_s=fallback_idle_s
        )

    return knobs


# ---- the replay -----------------------------------------------------------------------------


@dataclass
class _Replay:
    """The pool's rows, a provider model and the job queue, driven by `plan()` each tick."""

    settings: PoolSettings
    knobs: Knobs
    price_per_hour_usd: Decimal
    report_from: datetime
    report_until: datetime
    rows: dict[int, InstanceView] = field(default_factory=dict)
    rented_at: dict[int, datetime] = field(default_factory=dict)
    billed_s: float = 0.0
    busy_until: dict[int, tuple[datetime, int]] = field(default_factory=dict)
    queue: deque[int] = field(default_factory=deque)
    last_demand_at: datetime | None = None
    waits_s: dict[int, float] = field(default_factory=dict)
    started: dict[int, datetime] = field(default_factory=dict)
    cold: set[int] = field(default_factory=set)
    next_id: int = 1
    last_sweep: Sweep | None = None

    def arrive(self, index: int, job: Job, now: datetime) -> None:
        self.last_demand_at = now
        self.queue.append(index)

    def finish(self, instance_id: int, now: datetime) -> None:
        del self.busy_until[instance_id]
        self.rows[instance_id] = replace(
            self.rows[instance_id], state=InstanceState.READY, last_used_at=now
        )
        self.last_demand_at = now

    def dispatch(self, jobs: Sequence[Job], now: datetime, finishing: list) -> None:
        """Give queued jobs the free ready instances, most recently used first."""
        free = sorted(
            (r for r in self.rows.values() if r.state is InstanceState.READY),
            key=lambda r: r.last_used_at or r.ready_at or r.created_at,
            reverse=True,
        )
        while self.queue and free:
            index, instance = self.queue.popleft(), free.pop(0)
            job = jobs[index]
            self.waits_s[index] = (now - job.at).total_seconds()
            self.started[index] = now
            if instance.ready_at is not None and instance.ready_at > job.at:
                self.cold.add(index)
            self.rows[instance.id] = replace(instance, state=InstanceState.BUSY)
            done = now + timedelta(seconds=job.run_s)
            self.busy_until[instance.id] = (done, index)
            heapq.heappush(finishing, (done, instance.id))

    def tick(self, now: datetime) -> None:
        """One reconcile: a sweep of the provider model taken now (after the last tick's), the
        real plan, its actions carried out."""
        advice = self.knobs(now, self.last_demand_at)
        settings = replace(
            self.settings,
            idle_timeout_s=advice.idle_timeout_s,
            extra_idle_timeout_s=advice.extra_idle_timeout_s,
            expected=advice.expected,
        )
        observed = [self._remote(r, now) for r in self.rows.values()]
        health = {
            r.id: True
            for r in self.rows.values()
            if r.state is InstanceState.BOOTING and self._booted(r.id, now)
        }
        view = PoolView(
            label_prefix=PREFIX,
            instances=list(self.rows.values()),
            leases=[
                LeaseView(
                    index, instance_id, index, datetime.max.replace(tzinfo=UTC), self.started[index]
                )
                for instance_id, (_done, index) in self.busy_until.items()
            ],
            queued_jobs=len(self.queue),
            last_demand_at=self.last_demand_at,
            prewarm_until=advice.prewarm_until,
        )
        sweep = Sweep(now, now, tuple(r for r in observed if r))
        observation = Observation(sweep, self.last_sweep)
        self.last_sweep = sweep
        for action in plan(settings, view, observation, now, health):
            self._execute(action, now)

    def _remote(self, row: InstanceView, now: datetime) -> RemoteInstance | None:
        if row.state is InstanceState.TERMINATING:
            return None  # destroyed at once by the model provider
        running = self._booted(row.id, now)
        return RemoteInstance(
            id=row.provider_id or "",
            state=RemoteState.RUNNING if running else RemoteState.PENDING,
            gpu_name="sim",
            num_gpus=1,
            price_per_hour_usd=self.price_per_hour_usd,
            comfy_url="http://sim" if running else None,
            label=row.label,
            machine_id=f"m{row.id}",
            started_at=None,
            status_message=None,
        )

    def _boot(self, instance_id: int, now: datetime) -> None:
        """The instance is rented (or started again) at `now`: its row boots from then."""
        self.rows[instance_id] = InstanceView(
            id=instance_id,
            label=f"{PREFIX}{instance_id}",
            state=InstanceState.BOOTING,
            created_at=now,
            provider_id=f"p{instance_id}",
        )
        self.rented_at[instance_id] = now

    def _booted(self, instance_id: int, now: datetime) -> bool:
        """Whether the instance runs (its cold boot is over) at `now`."""
        return now >= self.rented_at[instance_id] + _boot()

    def _execute(self, action: object, now: datetime) -> None:
        match action:
            case Rent(count=count):
                for _ in range(count):
                    instance_id, self.next_id = self.next_id, self.next_id + 1
                    self._boot(instance_id, now)
            case MarkReady(instance_id=instance_id):
                self.rows[instance_id] = replace(
                    self.rows[instance_id], state=InstanceState.READY, ready_at=now
                )
            case Terminate(instance_id=instance_id):
                self.rows[instance_id] = replace(
                    self.rows[instance_id], state=InstanceState.TERMINATING
                )
                self._bill(instance_id, now)
            case ConfirmTerminated(instance_id=instance_id):
                del self.rows[instance_id]
            case _:
                raise AssertionError(f"a fault-free replay cannot plan {action!r}")

    def _bill(self, instance_id: int, until: datetime) -> None:
        start = max(self.rented_at.pop(instance_id), self.report_from)
        end = min(until, self.report_until)
        self.billed_s += max(0.0, (end - start).total_seconds())

    def close(self) -> Decimal:
        """Bill whatever is still rented up to the end of the window; the window's GPU cost."""
        for instance_id in list(self.rented_at):
            self._bill(instance_id, self.report_until)
        return Decimal(str(self.billed_s)) * self.price_per_hour_usd / 3600


def _boot() -> timedelta:
    return timedelta(seconds=BOOT_S)


def replay(
    trace: Trace,
    strategy: str,
    knobs: Knobs,
    price_per_hour_usd: Decimal,
    pool_model: Callable[..., _Replay] = _Replay,
) -> Outcome:
    """Serve `trace` with `knobs` feeding the real policy; report its window only.

    `pool_model` builds the replay's pool from (settings, knobs, price, report window): the
    provider model by default, a variant of it for bench S."""
    defaults = PoolConfig(name="bench")
    settings = PoolSettings(
        desired_size=1,
        max_instances=MAX_INSTANCES,
        idle_timeout_s=defaults.idle_timeout_s,
        lease_max_s=defaults.lease_max_s,
        boot_timeout_s=defaults.boot_timeout_s,
        safe_mode=False,
        daily_budget_usd=Decimal(10**6),
        monthly_budget_usd=Decimal(10**6),
    )
    pool = pool_model(settings, knobs, price_per_hour_usd, trace.report_from, trace.report_until)
    clock = FakeClock(trace.report_from - WARMUP)
    jobs = trace.jobs
    times = [job.at for job in jobs]
    next_job = bisect_left(times, clock.now())
    first_reported = bisect_left(times, trace.report_from)
    finishing: list[tuple[datetime, int]] = []
    while clock.now() < trace.report_until or pool.queue or pool.busy_until:
        tick_at = clock.now() + timedelta(seconds=TICK_S)
        while True:  # every arrival and completion before the tick, in time order
            arrival = jobs[next_job].at if next_job < len(jobs) else None
            done = finishing[0][0] if finishing else None
            if arrival is not None and arrival >= trace.report_until:
                arrival = None
            candidates = [t for t in (arrival, done) if t is not None and t < tick_at]
            if not candidates:
                break
            at = min(candidates)
            if done is not None and done == at:
                _done, instance_id = heapq.heappop(finishing)
                pool.finish(instance_id, at)
            else:
                pool.arrive(next_job, jobs[next_job], at)
                next_job += 1
            pool.dispatch(jobs, at, finishing)
        clock.advance(TICK_S)
        pool.tick(clock.now())
        pool.dispatch(jobs, clock.now(), finishing)
    reported = range(first_reported, next_job)
    return Outcome(
        strategy=strategy,
        cost_usd=pool.close(),
        cold_starts=sum(1 for index in reported if index in pool.cold),
        waits_s=[pool.waits_s[index] for index in reported],
    )


def offline_optimum(trace: Trace, price_per_hour_usd: Decimal) -> Outcome:
    """The cheapest zero-wait schedule: on each level of concurrency, per gap min(gap, boot)."""
    edges: list[tuple[datetime, int]] = []
    for job in trace.jobs:
        if trace.report_from <= job.at < trace.report_until:
            edges += [(job.at, 1), (job.at + timedelta(seconds=job.run_s), -1)]
    edges.sort()  # at equal times -1 sorts first: a GPU freed then is reused at once
    freed_at: dict[int, datetime] = {}
    busy_from: dict[int, datetime] = {}
    billed_s, level = 0.0, 0
    for at, step in edges:
        if step == 1:
            level += 1
            last = freed_at.get(level)
            warmup_s = BOOT_S if last is None else min((at - last).total_seconds(), BOOT_S)
            billed_s += min(warmup_s, (at - trace.report_from).total_seconds())
            busy_from[level] = at
        else:
            end = min(at, trace.report_until)
            billed_s += max(0.0, (end - busy_from.pop(level)).total_seconds())
            freed_at[level] = at
            level -= 1
    cost = Decimal(str(billed_s)) * price_per_hour_usd / 3600
    reported = sum(1 for j in trace.jobs if trace.report_from <= j.at < trace.report_until)
    return Outcome("offline optimum", cost, 0, [0.0] * reported)


def no_prewarm_optimum(
    trace: Trace, price_per_hour_usd: Decimal, wait_value_per_hour_usd: Decimal
) -> Outcome:
    """The cheapest schedule that cannot start a GPU before a job asks for it, knowing every
    arrival, on each level of concurrency (`_levels`): per gap, idle through it or let the
    GPU go, and the next job pays a cold start (a boot billed and waited). A GPU rented for a
    job is ready a boot later, so the jobs after a cold start on its level wait for it and
    run later: `_level_optimum` chooses among every choice of gaps on the level."""
    price, wait = float(price_per_hour_usd) / 3600, float(wait_value_per_hour_usd) / 3600
    jobs = [j for j in trace.jobs if trace.report_from <= j.at < trace.report_until]
    billed_s, waits = 0.0, [0.0] * len(jobs)
    for level in _levels(jobs):
        level_billed_s, level_waits = _level_optimum([jobs[i] for i in level], price, wait)
        billed_s += level_billed_s
        for index, waited in zip(level, level_waits, strict=True):
            waits[index] = waited
    cost = Decimal(str(billed_s)) * price_per_hour_usd / 3600
    return Outcome("no-prewarm optimum", cost, sum(1 for w in waits if w), waits)


def _levels(jobs: Sequence[Job]) -> list[list[int]]:
    """The indexes of the time-ordered `jobs` on each level of concurrency: a job takes the
    lowest level whose last job has ended when it arrives (ends as if it started at once)."""
    edges = sorted(
        [(j.at, 1, i) for i, j in enumerate(jobs)]
        + [(j.at + timedelta(seconds=j.run_s), -1, i) for i, j in enumerate(jobs)]
    )  # at equal times -1 sorts first: a GPU freed then is reused at once
    levels: list[list[int]] = []
    level_of: dict[int, int] = {}
    free: list[int] = []  # a heap of free levels
    for _at, step, index in edges:
        if step == 1:
            level = heapq.heappop(free) if free else len(levels)
            if level == len(levels):
                levels.append([])
            levels[level].append(index)
            level_of[index] = level
        else:
            heapq.heappush(free, level_of[index])
    return levels


_Waits = tuple[float, "_Waits"] | None
"""The waits of a level's jobs so far, latest first, shared between the states."""


def _level_optimum(jobs: Sequence[Job], price: float, wait: float) -> tuple[float, list[float]]:
    """Billed seconds and each job's wait of the cheapest no-prewarm schedule of one level's
    time-ordered `jobs` (GPU at `price`, waiting at `wait` dollars a second): its first job
    starts cold; before each later one the GPU idles until the job comes (which waits while
    the GPU is still busy or booting), or is let go once free and another is rented as the
    job arrives. Exact: states are the GPU's free time after each choice, merged where they
    coincide (a delay has been caught up)."""
    # state: free time -> (cost, billed seconds, waits so far); the first job is cold.
    first = jobs[0]
    states: dict[datetime, tuple[float, float, _Waits]] = {
        first.at + timedelta(seconds=BOOT_S + first.run_s): (
            (price + wait) * BOOT_S + price * first.run_s,
            BOOT_S + first.run_s,
            (float(BOOT_S), None),
        )
    }
    for job in jobs[1:]:
        following: dict[datetime, tuple[float, float, _Waits]] = {}
        for free_at, (cost, billed, so_far) in states.items():
            gap_s = (job.at - free_at).total_seconds()
            start = max(job.at, free_at)
            waited = max(0.0, -gap_s)
            idle = max(0.0, gap_s)
            _keep(
                following,
                start + timedelta(seconds=job.run_s),
                cost + price * (idle + job.run_s) + wait * waited,
                billed + idle + job.run_s,
                (waited, so_far),
            )
            _keep(  # let the GPU go once free: the job rents another as it arrives
                following,
                job.at + timedelta(seconds=BOOT_S + job.run_s),
                cost + (price + wait) * BOOT_S + price * job.run_s,
                billed + BOOT_S + job.run_s,
                (float(BOOT_S), so_far),
            )
        states = following
    _cost, billed_s, chain = min(states.values(), key=lambda state: state[0])
    waits: list[float] = []
    while chain is not None:
        waited_s, chain = chain
        waits.append(waited_s)
    return billed_s, waits[::-1]


def _keep(
    states: dict[datetime, tuple[float, float, _Waits]],
    free_at: datetime,
    cost: float,
    billed: float,
    waits: _Waits,
) -> None:
    """Keep the cheaper of two schedules whose GPU is free at the same time."""
    if free_at not in states or cost < states[free_at][0]:
        states[free_at] = (cost, billed, waits)


# ---- the table ------------------------------------------------------------------------------


def sim_price_per_hour_usd(seed: int = 0) -> Decimal:
    """The median total hourly price on the Vast simulator's offer market."""
    market = VastState(seed=seed).offers.values()
    return Decimal(str(statistics.median(offer["dph_total"] for offer in market))).quantize(
        Decimal("0.0001")
    )


FIXED_GRID_S = adaptive.FIXED_CANDIDATES_S
"""The fixed idle timeouts searched for the best one in hindsight: every one the adaptive
policy's best-fixed fallback picks among, so the hindsight choice has no coarser grid."""


def break_even_s(costs: adaptive.Costs) -> int:
    """The deterministic ski-rental rule: idle as long as a cold start would cost."""
    return round(costs.cold_start_usd() / costs.idle_usd_per_s)


def compare(trace: Trace, price_per_hour_usd: Decimal) -> list[Outcome]:
    """Every strategy on `trace`: the rules, the best fixed timeout in hindsight, adaptive,
    then the no-prewarm optimum and the foresight optimum (the two lower bounds) last."""
    defaults = PoolConfig(name="bench")
    wait_value = defaults.wait_value_per_hour_usd
    costs = adaptive.Costs(
        price_per_hour_usd=price_per_hour_usd,
        boot_s=float(BOOT_S),
        wait_value_per_hour_usd=wait_value,
    )
    strategies: list[tuple[str, Knobs]] = [
        ("always-on", always_on),
        ("fixed 15-min idle", fixed_idle(900)),
        ("short 3-min idle", fixed_idle(180)),
        (f"break-even {break_even_s(costs)} s", fixed_idle(break_even_s(costs))),
        ("adaptive", adaptive_knobs(trace, costs, defaults.idle_timeout_s)),
    ]
    outcomes = [replay(trace, name, knobs, price_per_hour_usd) for name, knobs in strategies]
    fixed = [replay(trace, f"fixed {t} s", fixed_idle(t), price_per_hour_usd) for t in FIXED_GRID_S]
    best = min(fixed, key=lambda o: o.total_usd(wait_value))
    best.strategy = f"best fixed ({best.strategy[6:]}, hindsight)"
    return [
        *outcomes,
        best,
        no_prewarm_optimum(trace, price_per_hour_usd, wait_value),
        offline_optimum(trace, price_per_hour_usd),
    ]


def print_table(trace: Trace, outcomes: Sequence[Outcome], wait_value: Decimal) -> None:
    """One table: cost, ratio to the optimum, cold starts, waits and cost with waiting valued."""
    optimum = outcomes[-1].cost_usd
    days = max(1, round((trace.report_until - trace.report_from).total_seconds() / 86_400))
    print(f"\n== {trace.name}: {len(outcomes[-1].waits_s)} jobs over the last {days} days ==")
    print(row("strategy", "GPU $", "x optimum", "cold", "wait p50 s", "wait p95 s", "GPU+wait $",
              widths=WIDTHS))  # fmt: skip
    for outcome in outcomes:
        ratio = outcome.cost_usd / optimum if optimum else Decimal(0)
        print(
            row(
                outcome.strategy,
                f"{outcome.cost_usd:.2f}",
                f"{ratio:.2f}",
                outcome.cold_starts,
                f"{percentile(outcome.waits_s, 50):.0f}",
                f"{percentile(outcome.waits_s, 95):.0f}",
                f"{outcome.total_usd(wait_value):.2f}",
                widths=WIDTHS,
            )
        )


GOAL_OVER_FIXED = 1.0
GOAL_OVER_NO_PREWARM = 1.25
SPREAD_SEEDS = 3
"""Fresh seeds per trace replayed beside the bench's own, so one lucky or unlucky week shows."""


def ratios(outcomes: Sequence[Outcome], wait_value: Decimal) -> tuple[float, float]:
    """Adaptive's GPU+wait over the best fixed timeout in hindsight, and over the no-prewarm
    optimum, among `compare`'s outcomes."""

    ours = next(o for o in outcomes if o.strategy == "adaptive")
    best_fixed = next(o for o in outcomes if o.strategy.startswith("best fixed"))
    no_prewarm = next(o for o in outcomes if o.strategy == "no-prewarm optimum")
    return (
        float(ours.total_usd(wait_value) / best_fixed.total_usd(wait_value)),
        float(ours.total_usd(wait_value) / no_prewarm.total_usd(wait_value)),
    )


def spread_seeds(bench_seed: int) -> Iterator[int]:
    """Seeds other than any trace's bench seed (`bench_seed` its index), unique per trace."""
    return (1000 * k + bench_seed for k in itertools.count(1))


def fresh_traces(
    name: str, bench_seed: int, count: int, *, history_days: int, report_days: int
) -> list[Trace]:
    """`count` traces `name` on `spread_seeds`, skipping any with no job in its reported days
    (a quiet trace may have none in the two days of a quick run: no ratio to take)."""
    traces: list[Trace] = []
    for seed in spread_seeds(bench_seed):
        if len(traces) == count:
            return traces
        trace = make_trace(name, seed, history_days=history_days, report_days=report_days)
        if any(trace.report_from <= job.at < trace.report_until for job in trace.jobs):
            traces.append(trace)
    raise AssertionError("unreachable: spread_seeds never ends")


def main(quick: bool = False) -> list[Figure]:
    """Replay every trace through every strategy and print a table each, then a summary;
    return, per trace, adaptive's GPU+wait cost against the best fixed timeout in hindsight
    and against the no-prewarm optimum. The figures are the bench's seed; the same two ratios
    on `SPREAD_SEEDS` fresh seeds (one with `quick`) are printed beside them, not returned."""
    logging.disable(logging.WARNING)
    price = sim_price_per_hour_usd()
    wait_value = PoolConfig(name="bench").wait_value_per_hour_usd
    history_days, report_days = (14, 2) if quick else (28, 7)
    print(
        f"\n== Pool policies on demand traces: {history_days} days learnt, {report_days} reported; "
        f"${price}/h, {BOOT_S} s cold boot, waiting valued at ${wait_value}/h =="
    )
    summary, spread, figures = [], [], []

    def total(outcome: Outcome) -> Decimal:
        return outcome.total_usd(wait_value)

    for seed, name in enumerate(TRACES):
        trace = make_trace(name, seed, history_days=history_days, report_days=report_days)
        outcomes = compare(trace, price)
        print_table(trace, outcomes, wait_value)
        ours = next(o for o in outcomes if o.strategy == "adaptive")
        best_fixed = next(o for o in outcomes if o.strategy.startswith("best fixed"))
        rule = next(o for o in outcomes if o.strategy.startswith("break-even"))
        no_prewarm, foresight = outcomes[-2], outcomes[-1]
        over_fixed, over_no_prewarm = ratios(outcomes, wait_value)
        figures += [
            Figure(
                "P2", f"{name}: adaptive GPU+wait / best fixed timeout in hindsight",
                over_fixed, "x", "<=", GOAL_OVER_FIXED,
            ),
            Figure(
                "P2", f"{name}: adaptive GPU+wait / no-prewarm optimum",
                over_no_prewarm, "x", "<=", GOAL_OVER_NO_PREWARM,
            ),
        ]  # fmt: skip
        summary.append(
            f"{name}: adaptive ${total(ours):.2f} GPU+wait; {best_fixed.strategy} "
            f"${total(best_fixed):.2f}; {rule.strategy} ${total(rule):.2f}; no-prewarm optimum "
            f"${total(no_prewarm):.2f}; foresight optimum ${total(foresight):.2f}"
        )
        fresh = fresh_traces(
            name, seed, 1 if quick else SPREAD_SEEDS,
            history_days=history_days, report_days=report_days,
        )  # fmt: skip
        spread.append((name, [ratios(compare(t, price), wait_value) for t in fresh]))
    print("\nAdaptive beside the rules and the two optima (GPU cost plus waiting valued):")
    for line in summary:
        print(f"  {line}")
    print_spread(spread, figures)
    return figures


def print_spread(
    spread: Sequence[tuple[str, Sequence[tuple[float, float]]]], figures: Sequence[Figure]
) -> None:
    """Per trace, the bench seed's two ratios beside each fresh seed's and how many fresh
    seeds meet each goal: a guard against reading one week's luck as a policy's merit."""
    print("\nThe same ratios on fresh seeds (not figures; the bench seed's first):")
    for index, (name, fresh) in enumerate(spread):
        bench_fixed, bench_optimum = figures[2 * index].value, figures[2 * index + 1].value
        over_fixed = " ".join(f"{r:.2f}" for r, _ in fresh)
        over_optimum = " ".join(f"{r:.2f}" for _, r in fresh)
        met_fixed = sum(1 for r, _ in fresh if r <= GOAL_OVER_FIXED)
        met_optimum = sum(1 for _, r in fresh if r <= GOAL_OVER_NO_PREWARM)
        print(
            f"  {name}: / best fixed {bench_fixed:.2f} | {over_fixed} ({met_fixed}/{len(fresh)} "
            f"met); / no-prewarm optimum {bench_optimum:.2f} | {over_optimum} "
            f"({met_optimum}/{len(fresh)} met)"
        )

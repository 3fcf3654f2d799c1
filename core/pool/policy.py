"""The warm pool's decisions: `plan(config, pool, observed, now) -> list[Action]`, no I/O.

Level-triggered like a Kubernetes controller: every tick compares what the provider lists
with our rows and decides, so running it twice on the same inputs decides the same things.

Rules (ARCHITECTURE.md "The pool", SECURITY.md decisions 1-3):
- "Could not ask" is not "nothing there": with no observation, only database-side lease expiry
  is decided; no rental, adoption, loss or destroy.
- Spend at or over the daily or monthly cap switches safe mode on; safe mode terminates every
  live instance and rents nothing.
- A requested row whose label appears at the provider is adopted (a timed-out create is not
  repeated). One whose create was never sent (a crash between the row and the call, a queue
  dropped) is closed at once, after `UNSENT_GRACE_S`, unless its create is still queued; one
  whose create was sent but whose label never appears within `LIST_GRACE_S` of the call is
  closed as never created.
- The listing is a pair of sweeps (`core.pool.sweeps`), each paged over tens of seconds and
  possibly older than this tick: nothing is decided from a sweep that began before the event
  it would judge. A live instance is lost only when absent from the last two sweeps, both
  begun at least `LIST_GRACE_S` after its create returned (listings lag behind creates); a
  terminating one is confirmed gone, or destroyed again, only by a sweep begun after its last
  destroy; a sent create is given up only by a sweep begun `LIST_GRACE_S` after it was sent.
- Booting -> ready only when the provider says running and the health check passed; booting
  past `boot_timeout_s` is terminated and its machine avoided. A provider-failed instance
  (exited, offline, stopped...) is terminated so it stops billing storage.
- Terminating rows stay terminating until the list no longer shows them; destroy is repeated.
- An operator's terminate request is carried out on the next tick (once the row is adopted).
- A listed instance with our pool's label prefix and no live row is an orphan: destroyed, unless
  this manager destroyed it after the sweep began. Instances without our prefix are never
  touched.
- Target size = desired_size while awake, 0 asleep, raised to cover busy + queued jobs (with
  expected boot and job times, only the queued jobs a rental would serve sooner than the
  instances there are: `queue_needs`) and every
  instance that served a job within `idle_timeout_s` (`extra_idle_timeout_s` for all but the
  one used most recently; desired_size is the floor kept warm, not a
  cap on warmth a job paid for), at least one during a prewarm, capped at max_instances.
  Awake = jobs queued or running, demand within `idle_timeout_s`, or a prewarm. Surplus
  instances go idle-longest first; busy instances are never taken for surplus.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from core.models.enums import InstanceState
from core.pool.actions import (
    Action,
    Adopt,
    ConfirmTerminated,
    DestroyOrphan,
    EnterSafeMode,
    ExpireLease,
    MarkLost,
    MarkReady,
    Rent,
    RetryDestroy,
    Terminate,
)
from core.pool.provider import RemoteInstance, RemoteState
from core.pool.sweeps import Observation, Sweep

LIST_GRACE_S = 90
"""Listings lag creates (SECURITY.md decision 2: ~60 s): absence is no proof before this."""
UNSENT_GRACE_S = 15
"""A requested row younger than this may be between its commit and its create call."""

_CAPACITY_STATES = frozenset(
    {InstanceState.REQUESTED, InstanceState.BOOTING, InstanceState.READY, InstanceState.BUSY}
)


@dataclass(frozen=True)
class Expected:
    """How long things are expected to take: a cold boot, and a job's GPU time."""

    boot_s: float
    job_s: float


@dataclass(frozen=True)
class PoolSettings:
    """The operator's settings for one pool (a snapshot of its PoolConfig row)."""

    desired_size: int
    max_instances: int
    idle_timeout_s: int
    lease_max_s: int
    boot_timeout_s: int
    safe_mode: bool
    daily_budget_usd: Decimal
    monthly_budget_usd: Decimal
    extra_idle_timeout_s: int | None = None
    """How long an up instance other than the most recently used one stays warm after its
    last job (None: `idle_timeout_s`, never longer): a second GPU serves only the rarer
    overlaps, so its gaps are longer and idling through them pays less."""
    expected: Expected | None = None
    """A boot's and a job's expected length. When set, a queued job rents another instance
    only if it would start sooner on it than on one already up or starting (`queue_needs`);
    None: every queued job not matched by a ready or starting instance rents one."""


@dataclass(frozen=True)
class InstanceView:
    """What the database claims about one instance."""

    id: int
    label: str
    state: InstanceState
    created_at: datetime
    provider_id: str | None = None
    machine_id: str | None = None
    last_used_at: datetime | None = None
    ready_at: datetime | None = None
    terminate_requested: bool = False
    create_sent_at: datetime | None = None
    create_queued: bool = False
    """Whether its create is queued or in flight at this manager's create sender: a row not
    yet sent that is not closed while it waits (it holds its place in the pool's size)."""
    born_at: datetime | None = None
    """Since when the instance surely exists at the provider if it exists at all: when its
    create returned (the manager remembers), else the latest time the row knows of."""
    destroy_sent_at: datetime | None = None
    """When its last destroy was asked for (terminating rows)."""


@dataclass(frozen=True)
class LeaseView:
    """An open lease."""

    id: int
    instance_id: int
    job_id: int
    expires_at: datetime
    acquired_at: datetime | None = None
    """When the job took the instance (None: unknown, the instance is not expected free)."""


@dataclass(frozen=True)
class PoolView:
    """The database side of one tick."""

    label_prefix: str
    instances: Sequence[InstanceView]
    leases: Sequence[LeaseView] = ()
    queued_jobs: int = 0
    last_demand_at: datetime | None = None
    prewarm_until: datetime | None = None
    spend_today_usd: Decimal = Decimal(0)
    spend_month_usd: Decimal = Decimal(0)
    destroyed_at: Mapping[str, datetime] = field(default_factory=dict)
    """Provider id -> when this manager last had it destroyed: a sweep begun before then may
    still list it, and it is not destroyed again on that sweep's word."""


def is_awake(config: PoolSettings, pool: PoolView, now: datetime) -> bool:
    """Whether the pool should keep `desired_size` warm right now."""
    busy = any(i.state is InstanceState.BUSY for i in pool.instances)
    if pool.queued_jobs > 0 or busy:
        return True
    if prewarming(pool, now):
        return True
    return pool.last_demand_at is not None and now - pool.last_demand_at < timedelta(
        seconds=config.idle_timeout_s
    )


def prewarming(pool: PoolView, now: datetime) -> bool:
    """Whether an operator's (or the adaptive policy's) prewarm is in force at `now`."""
    return pool.prewarm_until is not None and now < pool.prewarm_until


def recently_used(config: PoolSettings, pool: PoolView, now: datetime) -> int:
    """Up instances still within their idle timeout, whatever the desired size: the one used
    most recently (or a busy one) within `idle_timeout_s` of its last job, every other within
    `extra_idle_timeout_s` (capped at `idle_timeout_s`)."""
    extra_s = config.idle_timeout_s
    if config.extra_idle_timeout_s is not None:
        extra_s = min(extra_s, config.extra_idle_timeout_s)
    used = sorted(
        (
            i.last_used_at
            for i in pool.instances
            if i.state in (InstanceState.READY, InstanceState.BUSY) and i.last_used_at is not None
        ),
        reverse=True,
    )
    kept = [timedelta(seconds=config.idle_timeout_s)] + [timedelta(seconds=extra_s)] * len(used)
    return sum(1 for at, idle in zip(used, kept, strict=False) if now - at < idle)


def target_size(config: PoolSettings, pool: PoolView, now: datetime) -> int:
    """How many instances the pool should own now (0 in safe mode).

    `desired_size` is a floor while awake; a prewarm asks for at least one instance even at
    desired size 0; an instance a job used stays through its idle timeout."""
    if config.safe_mode:
        return 0
    busy = sum(1 for i in pool.instances if i.state is InstanceState.BUSY)
    baseline = config.desired_size if is_awake(config, pool, now) else 0
    if prewarming(pool, now):
        baseline = max(baseline, 1)
    wanted = max(baseline, busy + queue_needs(config, pool, now), recently_used(config, pool, now))
    return min(config.max_instances, wanted)


OVERDUE_JOBS = 2.0
"""A lease older than this many expected jobs is not expected to end soon: a long job (a
video) or a stuck one no longer holds the queue back from renting."""


def queue_needs(config: PoolSettings, pool: PoolView, now: datetime) -> int:
    """How many queued jobs need an instance of their own, ready, starting or rented now.

    Without `config.expected`, every queued job. With it, the queue is served in order from
    the earliest free slot: a ready instance now, a starting one when its boot ends, a busy
    one when its job is expected to end, each slot freeing again a job later. A job whose
    earliest slot frees sooner than a rental made now would be ready waits for it (it is held
    back, costing no rental); the others take a ready or starting instance's first slot or a
    new rental. Rentals stop at `max_instances`: the rest wait for the slots there are.
    """
    if config.expected is None or pool.queued_jobs == 0:
        return pool.queued_jobs
    boot_s, job_s = config.expected.boot_s, config.expected.job_s
    acquired = {lease.instance_id: lease.acquired_at for lease in pool.leases}
    slots: list[tuple[float, int]] = []  # (free in s, 1 while it is an instance's first slot)
    live = 0
    for row in pool.instances:
        if row.state not in _CAPACITY_STATES:
            continue
        live += 1
        if row.state is InstanceState.READY:
            slots.append((0.0, 1))
        elif row.state is InstanceState.BUSY:
            started = acquired.get(row.id)
            ran_s = math.inf if started is None else (now - started).total_seconds()
            if ran_s < OVERDUE_JOBS * job_s:
                slots.append((max(0.0, job_s - ran_s), 0))
        else:
            slots.append((max(0.0, boot_s - (now - row.created_at).total_seconds()), 1))
    heapq.heapify(slots)
    needs = 0
    for _job in range(pool.queued_jobs):
        if slots and (slots[0][0] <= boot_s or live >= config.max_instances):
            free_in_s, first = heapq.heappop(slots)
        elif live < config.max_instances:
            live, free_in_s, first = live + 1, boot_s, 1  # a rental made now
        else:
            break  # every instance overdue at the cap: nothing more to decide
        needs += first
        heapq.heappush(slots, (free_in_s + job_s, 0))
    return needs


def budget_breach(config: PoolSettings, pool: PoolView) -> str | None:
    """The reason safe mode must switch on for spend, or None while under both caps."""
    if pool.spend_today_usd >= config.daily_budget_usd:
        return f"daily budget ${config.daily_budget_usd} reached"
    if pool.spend_month_usd >= config.monthly_budget_usd:
        return f"monthly budget ${config.monthly_budget_usd} reached"
    return None


def plan(
    config: PoolSettings,
    pool: PoolView,
    observation: Observation | None,
    now: datetime,
    health: Mapping[int, bool] | None = None,
) -> list[Action]:
    """Decide this tick's actions. `observation` (the last two sweeps) is None when the
    provider has not been listed lately; `health` holds this tick's ComfyUI health results
    for booting instances, and False for a ready instance one of whose background downloads
    failed its check."""
    actions: list[Action] = []
    expiring = _expired_leases(pool, now)
    actions.extend(expiring)
    if observation is None:
        return actions
    observed = observation.latest.instances

    breach = None if config.safe_mode else budget_breach(config, pool)
    if breach is not None:
        actions.append(EnterSafeMode(breach))
    safe = config.safe_mode or breach is not None

    remote_by_label = {r.label: r for r in observed if r.label}
    terminated: set[int] = {lease.instance_id for lease in expiring}
    for lease in expiring:
        row = _row(pool, lease.instance_id)
        if row is not None and row.state is not InstanceState.TERMINATING:
            actions.append(Terminate(row.id, "lease expired", provider_id=row.provider_id))

    for row in pool.instances:
        if row.id in terminated:
            continue
        remote = remote_by_label.get(row.label)
        decided = _decide_row(config, row, remote, observation, now, health or {}, safe)
        actions.extend(decided)
        if any(isinstance(a, Terminate | MarkLost | ConfirmTerminated) for a in decided):
            terminated.add(row.id)

    actions.extend(_orphans(pool, observation.latest))
    if not safe:
        actions.extend(_resize(config, pool, now, terminated))
    return actions


def _row(pool: PoolView, instance_id: int) -> InstanceView | None:
    return next((row for row in pool.instances if row.id == instance_id), None)


def _expired_leases(pool: PoolView, now: datetime) -> list[ExpireLease]:
    return [
        ExpireLease(lease.id, lease.instance_id, lease.job_id)
        for lease in pool.leases
        if lease.expires_at <= now
    ]


def _decide_row(
    config: PoolSettings,
    row: InstanceView,
    remote: RemoteInstance | None,
    observation: Observation,
    now: datetime,
    health: Mapping[int, bool],
    safe: bool,
) -> list[Action]:
    age_s = (now - row.created_at).total_seconds()
    provider_id = row.provider_id or (remote.id if remote else None)
    swept_at = observation.latest.started_at

    if row.state is InstanceState.TERMINATING:
        if row.destroy_sent_at is not None and swept_at <= row.destroy_sent_at:
            return []  # the sweep began before the destroy: it cannot tell what it did
        if remote is None:
            return [ConfirmTerminated(row.id, "no longer listed by the provider")]
        return [RetryDestroy(row.id, remote.id)]

    if safe:
        return [Terminate(row.id, "safe mode", provider_id=provider_id)]
    if row.terminate_requested and row.state is not InstanceState.REQUESTED:
        return [Terminate(row.id, "operator request", provider_id=provider_id)]

    if row.state is InstanceState.REQUESTED:
        if remote is not None:
            return [Adopt(row.id, remote.id)]
        if row.create_sent_at is None:
            if age_s > UNSENT_GRACE_S and not row.create_queued:
                return [ConfirmTerminated(row.id, "create was never sent")]
            return []
        if (swept_at - row.create_sent_at).total_seconds() > LIST_GRACE_S:
            return [ConfirmTerminated(row.id, "create never produced an instance")]
        return []

    if remote is None:
        if _gone(row, observation):
            return [MarkLost(row.id, "gone at the provider")]
        return []

    if remote.state is RemoteState.FAILED:
        bad = row.machine_id if row.state is InstanceState.BOOTING else None
        reason = f"provider reports failure: {remote.status_message or 'no detail'}"
        return [Terminate(row.id, reason, provider_id=remote.id, bad_machine=bad)]

    if row.state is InstanceState.READY and health.get(row.id) is False:
        # Only a model file that failed its check after the start script's retry: the
        # instance can never run the jobs needing it, so a whole one replaces it.
        reason = "a model file failed its check"
        return [Terminate(row.id, reason, provider_id=remote.id, bad_machine=row.machine_id)]
    if row.state is InstanceState.BOOTING:
        if remote.state is RemoteState.RUNNING and health.get(row.id):
            return [MarkReady(row.id)]
        if age_s > config.boot_timeout_s:
            return [
                Terminate(row.id, "boot timeout", provider_id=remote.id, bad_machine=row.machine_id)
            ]
    return []


def _gone(row: InstanceView, observation: Observation) -> bool:
    """Whether the row's instance is absent from the last two sweeps, both begun at least
    `LIST_GRACE_S` after it surely existed: one sweep may have paged past its id before it
    was created, and a listing lags a create."""
    previous = observation.previous
    if previous is None or row.label in previous.labels:
        return False
    born = max(t for t in (row.born_at, row.create_sent_at, row.created_at) if t is not None)
    return (previous.started_at - born).total_seconds() >= LIST_GRACE_S


def _orphans(pool: PoolView, latest: Sweep) -> list[Action]:
    claimed = {
        row.label
        for row in pool.instances
        if row.state not in (InstanceState.TERMINATED, InstanceState.LOST)
    }
    return [
        DestroyOrphan(remote.id, remote.label)
        for remote in latest.instances
        if remote.label
        and remote.label.startswith(pool.label_prefix)
        and remote.label not in claimed
        and not _destroyed_since(pool, remote.id, latest.started_at)
    ]


def _destroyed_since(pool: PoolView, provider_id: str, since: datetime) -> bool:
    destroyed = pool.destroyed_at.get(provider_id)
    return destroyed is not None and destroyed >= since


def _resize(config: PoolSettings, pool: PoolView, now: datetime, leaving: set[int]) -> list[Action]:
    staying = [r for r in pool.instances if r.state in _CAPACITY_STATES and r.id not in leaving]
    target = target_size(config, pool, now)
    if len(staying) < target:
        return [Rent(target - len(staying), f"target {target}, have {len(staying)}")]
    surplus = len(staying) - target
    if surplus <= 0:
        return []
    leased = {lease.instance_id for lease in pool.leases}
    idle_ready = sorted(
        (r for r in staying if r.state is InstanceState.READY and r.id not in leased),
        key=lambda r: r.last_used_at or r.ready_at or r.created_at,
    )
    booting = sorted(
        (r for r in staying if r.state is InstanceState.BOOTING),
        key=lambda r: r.created_at,
        reverse=True,
    )
    reason = "idle: pool asleep" if target == 0 else f"surplus over target {target}"
    return [
        Terminate(r.id, reason, provider_id=r.provider_id) for r in (idle_ready + booting)[:surplus]
    ]

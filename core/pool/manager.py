"""`PoolManager.reconcile()`: read the latest sweeps, plan purely, execute, record.

The tick makes no list call: its `Lister` (`core.pool.sweeps`) pages the provider's list apart
from it, and the tick plans from the last two complete sweeps plus what this manager knows of
its own creates and destroys since they began.

Every money-moving step commits its intent before the provider call it guards: a row and its
label exist before `create`, a row is `terminating` before `destroy`. Whatever happens after
(timeout, crash, kill -9), a later sweep shows the truth and the plan converges.

The calls themselves go through two `Sender`s (`core.pool.sends`), one for creates and one
for destroys, so a tick deciding many of them returns at once: in the scheduler process each
sender has a worker thread sending as the client's pacer allows (`sends_inline` off); a
caller driving ticks one by one has the tick send them itself before it returns.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from core import audit, locks
from core.alerts import no_alerts
from core.clock import Clock
from core.comfy.health import Health
from core.db import read_scope, session_scope
from core.errors import CoreError, OfferUnavailable, ProviderError, ProviderUnavailable
from core.models import (
    LIVE_INSTANCE_STATES,
    AuditOutcome,
    BadMachine,
    GenerationJob,
    GpuInstance,
    InstanceState,
    JobStatus,
    Lease,
    PoolConfig,
    UsageEvent,
)
from core.pool import adaptive, billing, costs, leases, outlook
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
from core.pool.policy import InstanceView, LeaseView, PoolSettings, PoolView, plan
from core.pool.provider import LaunchSpec, Offer, OfferFilter, Provider, RemoteInstance, RemoteState
from core.pool.sends import Sender
from core.pool.sweeps import Lister, SweepBoard

log = logging.getLogger(__name__)

BAD_MACHINE_TTL = timedelta(hours=24)
ASK_TIMEOUT = timedelta(minutes=2)
"""How long an instance done with its start's downloads may leave files asked for unread
(its start script's watcher looks every 10 s) before it is replaced: one started by an
older script has no watcher, and jobs needing the files must not wait on it for ever."""
FAILED_FILE_MACHINES = 2
"""Machines a model file must fail its check on before the jobs loading it are failed: one
failure may be the machine's (its disk, its link), and it is replaced and avoided."""
OFFERS_TRIED_PER_RENT = 3
STOP_DESTROYS_S = 10.0
"""How long a cleanly stopping scheduler still sends its queued destroys (Vast paces them 3 s
apart: three or four): each stops an instance billing now, which otherwise bills until the
next leader's sweep. Queued creates are dropped at once: their `requested` rows cost nothing
and the next leader closes them as never sent."""
HealthCheck = Callable[[str], Health]
"""Given a ComfyUI URL, its health: why it cannot take jobs (None when it can), the model
files still downloading, those that failed their check and those it was never asked for."""
AskForDownloads = Callable[[str, frozenset[str]], None]
"""Ask the instance at a ComfyUI URL to fetch downloads (`folder/file`) it started without."""


def _never_asks(url: str, paths: frozenset[str]) -> None:
    raise ProviderError(f"this pool cannot ask {url} for downloads ({', '.join(sorted(paths))})")


class JobHooks(Protocol):
    """What the pool does to jobs whose instance went away (wired to core.studio.outcomes)."""

    def requeue_or_fail(self, session: Session, *, job_id: int, reason: str, now: datetime) -> None:
        """Put the job back in the queue, or fail and refund it if it has no attempts left."""
        ...

    def fail(self, session: Session, *, job_id: int, reason: str, now: datetime) -> None:
        """Fail the job and refund its credits (exactly once)."""
        ...


@dataclass
class TickReport:
    """What one reconcile tick saw and did."""

    observed: int | None = None
    actions: list[Action] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    advice: adaptive.Advice | None = None


RELEARN_EVERY = timedelta(hours=1)
"""How often the scheduler's own job (`PoolManager.relearn`, never a tick) learns the
adaptive demand profile again from the submissions."""


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    """The later of two optional times."""
    return max((t for t in (first, second) if t is not None), default=None)


def label_prefix(pool: str) -> str:
    """The label prefix every instance of `pool` carries: `aik-<pool>-`."""
    return f"aik-{pool}-"


_SYNC_COLUMNS = (
    col(GpuInstance.id),
    col(GpuInstance.label),
    col(GpuInstance.state),
    col(GpuInstance.provider_id),
    col(GpuInstance.models_pending),
    col(GpuInstance.comfy_url),
    col(GpuInstance.status_message),
    col(GpuInstance.gpu_name),
    col(GpuInstance.machine_id),
    col(GpuInstance.price_per_hour_usd),
    col(GpuInstance.cost_accrued_usd),
    col(GpuInstance.accrued_until),
    col(GpuInstance.created_at),
)
"""What a tick reads of each live row to sync and accrue it (plain columns: a tick at 1,000
instances must not pay the ORM's per-object bookkeeping 1,000 times)."""
_VIEW_COLUMNS = tuple(
    col(getattr(GpuInstance, name))
    for name in ("id", "label", "state", "created_at", "provider_id", "machine_id",
                 "last_used_at", "ready_at", "terminate_requested_at",
                 "create_sent_at")
)  # fmt: skip
"""What the plan's view of each live row is made of."""


def _listed_as_ours(row: sa.Row[Any], remote: RemoteInstance | None) -> RemoteInstance | None:
    """`remote` (listed under the row's label) if it is the instance the row rented."""
    return remote if remote is not None and row.provider_id in (None, remote.id) else None


_SYNCED = ("comfy_url", "status_message", "gpu_name", "machine_id", "price_per_hour_usd")
"""The columns a tick copies from the provider's listing."""


_ACCRUED = ("cost_accrued_usd", "accrued_until")
_GPU_TABLE = SQLModel.metadata.tables["gpuinstance"]
_SYNC_UPDATE = (
    sa.update(_GPU_TABLE)
    .where(_GPU_TABLE.c.id == sa.bindparam("row_id"))
    .values({name: sa.bindparam(f"new_{name}") for name in (*_SYNCED, *_ACCRUED)})
)
"""The tick's write of each changed row, one prepared statement for every row (executemany):
the ORM's bulk update by primary key costs ~70 µs a row in bookkeeping, a tick at 1,000
instances 70 ms."""
_LABEL_UPDATE = (
    sa.update(_GPU_TABLE)
    .where(_GPU_TABLE.c.id == sa.bindparam("row_id"))
    .values(label=sa.bindparam("new_label"))
)
"""A new row's label, which holds its id (executemany over a batch of new rows)."""
_USAGE_TABLE = SQLModel.metadata.tables["usageevent"]


def _synced(row: sa.Row[Any], remote: RemoteInstance | None) -> dict[str, object]:
    """The `_SYNCED` columns as they should be now, from the row's listed instance `remote`
    (the row's own values where the provider says nothing, all of them when not listed)."""
    if remote is None:
        return {name: getattr(row, name) for name in _SYNCED}
    return {
        "comfy_url": remote.comfy_url,
        "status_message": remote.status_message,
        "gpu_name": remote.gpu_name or row.gpu_name,
        "machine_id": remote.machine_id or row.machine_id,
        "price_per_hour_usd": remote.price_per_hour_usd or row.price_per_hour_usd,
    }


def _to_check(row: sa.Row[Any], remote: RemoteInstance | None, *, examined: bool) -> str | None:
    """The ComfyUI URL to health-check for the row (`remote`: its listed instance): booting,
    or ready with downloads pending or not yet `examined` since this manager started, and its
    instance running; else None."""
    if remote is None:
        return None
    provisioning = row.state is InstanceState.READY and (bool(row.models_pending) or not examined)
    booting = row.state is InstanceState.BOOTING or provisioning
    if booting and remote.state is RemoteState.RUNNING and remote.comfy_url:
        return remote.comfy_url
    return None


@dataclass(frozen=True)
class _Create:
    """One create a tick decided, queued for the create sender: its row (committed
    `requested`), the launch bound to the config the tick read, the offers' filter and the
    tick's batch (the rents one `Rent` decided share one offer search)."""

    instance_id: int
    label: str
    token_nonce: str
    launch: Callable[[str], LaunchSpec]
    offer_filter: OfferFilter
    batch: int


class PoolManager:
    """Reconciles one pool's rows with what its provider really runs."""

    def __init__(
        self,
        engine: Engine,
        provider: Provider,
        clock: Clock,
        *,
        pool: str,
        health_check: HealthCheck,
        job_hooks: JobHooks,
        launch: Callable[[PoolConfig, str], LaunchSpec],
        queued_jobs: Callable[[Session], int],
        alert: Callable[..., None] = no_alerts,
        still_leading: Callable[[], bool] = lambda: True,
        ask_for_downloads: AskForDownloads = _never_asks,
        job_needs: Callable[[GenerationJob], Collection[str]] = lambda _job: (),
        board: SweepBoard | None = None,
    ) -> None:
        self.engine = engine
        self.provider = provider
        self.clock = clock
        self.pool = pool
        self.prefix = label_prefix(pool)
        self.health_check = health_check
        self.job_hooks = job_hooks
        self.launch = launch
        self.queued_jobs = queued_jobs
        self.alert = alert
        self.still_leading = still_leading
        self.ask_for_downloads = ask_for_downloads
        self.job_needs = job_needs
        self.board = board or SweepBoard()
        self.lister = Lister(provider, self.prefix, clock, self.board, still_leading=still_leading)
        """Pages the list into `board`: on a thread of its own in the scheduler process
        (`sweeps_inline` off), else once at the start of each tick."""
        self.sweeps_inline = True
        """Whether `reconcile` sweeps first itself: for a caller driving ticks one by one
        (tests, the benchmark's harness, an in-process Runtime) with no lister thread."""
        self.creates: Sender[int] = Sender("create", still_leading=still_leading)
        """Creates decided, by row id, until their outcome is on the row."""
        self.destroys: Sender[str] = Sender("destroy", still_leading=still_leading)
        """Destroys decided, by provider id, until they returned (or failed)."""
        self.sends_inline = True
        """Whether `reconcile` sends the creates and destroys it decided before it returns:
        for a caller with no sender threads (`send_forever` turns it off)."""
        self._sent_lock = threading.Lock()
        """Guards `_born` and `_destroyed`, which the senders write while a tick reads."""
        self._batch = 0
        """The last rent batch queued (one per `Rent` action)."""
        self._offers: tuple[int, list[Offer]] = (0, [])
        """The batch the offers were searched for, and those not tried yet (senders only)."""
        self._halted: dict[int, str] = {}
        """Batch -> why its remaining creates are not sent (no offer left, a refusal)."""
        self._born: dict[int, datetime] = {}
        """Row -> when its create returned: its instance exists from then on."""
        self._destroyed: dict[str, datetime] = {}
        """Provider id -> when its last destroy returned (while a sweep older may be planned
        from)."""
        self._profile: adaptive.DemandProfile | None = None
        """The demand profile the last `relearn` left (None before it, or when there was too
        little history): ticks only read it."""
        self._failed_on: dict[str, set[str]] = {}
        """Model file -> the machines it failed its check on (since this manager started)."""
        self._asked_at: dict[int, datetime] = {}
        """Instance -> since when it leaves files asked for unread, its start's downloads done."""
        self._examined: set[int] = set()
        """Ready instances this manager checked once: the catalogue may have grown since the
        one before it (a restarted scheduler) checked them."""

    # ---- the tick -------------------------------------------------------------------------

    def reconcile(self) -> TickReport:
        """One level-triggered pass from the latest sweeps, making no list call unless
        `sweeps_inline`. Without a recent sweep only lease expiry is decided: no provider
        action. While the lister's latest pass failed, the tick reports it as an error."""
        report = TickReport()
        if self.sweeps_inline:
            self.lister.sweep()
        if self.lister.last_failure is not None:
            report.errors.append(f"list failed: {self.lister.last_failure}")
        now = self.clock.now()
        observation = self.board.observation(now)
        observed: Sequence[RemoteInstance] = ()
        if observation is not None:
            observed = observation.latest.instances
            report.observed = len(observed)
            # A record older than the latest sweep's start can no longer change a decision.
            with self._sent_lock:
                self._destroyed = {
                    pid: at for pid, at in self._destroyed.items()
                    if at >= observation.latest.started_at
                }  # fmt: skip
        health = self._sync_and_check(observed, now) if observation is not None else {}
        with read_scope(self.engine) as session:
            config, view, report.advice = self._snapshot(session, now)
        report.actions = plan(config, view, observation, now, health)
        for done, action in enumerate(report.actions):
            # Fencing: a scheduler paused past its leader lease must not rent or destroy on
            # the strength of a stale plan while the new leader acts on a fresh one.
            if not self.still_leading():
                report.errors.append(
                    f"leadership lost: {len(report.actions) - done} actions not taken"
                )
                log.error("pool.fenced_out", extra={"pool": self.pool, "skipped": done})
                break
            try:
                self._execute(action)
            except ProviderError as exc:
                report.errors.append(f"{type(action).__name__}: {exc}")
                log.warning(
                    "pool.action_failed",
                    extra={"action": repr(action), "error": str(exc)},
                )
        for sender in (self.destroys, self.creates):
            # Inline, this tick's own calls; else what the worker's failed since the last tick.
            report.errors.extend(sender.drain() if self.sends_inline else sender.take_failures())
        return report

    def send_forever(self, sender: Sender[Any], stop: threading.Event) -> None:
        """Send `sender`'s calls on this thread until `stop` is set (one of `creates`,
        `destroys`); from now on ticks only queue them. On a stop the destroys still queued
        are sent for up to `STOP_DESTROYS_S`; the creates are dropped."""
        self.sends_inline = False
        sender.run(stop, flush_s=STOP_DESTROYS_S if sender is self.destroys else 0.0)

    def _snapshot(
        self, session: Session, now: datetime
    ) -> tuple[PoolSettings, PoolView, adaptive.Advice | None]:
        # Read before the session's first statement (its snapshot, in SQLite's WAL as in a
        # PostgreSQL transaction that reads more than once): a call leaves `pending` only once
        # its outcome is committed, so every row is seen with its call pending or its outcome.
        queued_creates = self.creates.pending()
        destroying = self.destroys.pending()
        with self._sent_lock:
            born, destroyed = dict(self._born), dict(self._destroyed)
        # A destroy not yet returned returns after now: no sweep begun until now judges it.
        destroyed.update((pid, now) for pid in destroying)
        config = self._config(session)
        advice = self._advice(session, config, now) if config.adaptive else None
        rows = session.execute(
            sa.select(*_VIEW_COLUMNS).where(
                col(GpuInstance.pool) == self.pool,
                col(GpuInstance.state).in_(LIVE_INSTANCE_STATES),
            )
        ).all()
        settings = PoolSettings(
            desired_size=config.desired_size,
            max_instances=config.max_instances,
            idle_timeout_s=advice.idle_timeout_s if advice else config.idle_timeout_s,
            extra_idle_timeout_s=advice.extra_idle_timeout_s if advice else None,
            expected=advice.expected if advice else None,
            lease_max_s=config.lease_max_s,
            boot_timeout_s=config.boot_timeout_s,
            safe_mode=config.safe_mode,
            daily_budget_usd=config.daily_budget_usd,
            monthly_budget_usd=config.monthly_budget_usd,
        )
        view = PoolView(
            label_prefix=self.prefix,
            instances=[
                InstanceView(
                    id=row.id,
                    label=row.label,
                    state=row.state,
                    created_at=row.created_at,
                    provider_id=row.provider_id,
                    machine_id=row.machine_id,
                    last_used_at=row.last_used_at,
                    ready_at=row.ready_at,
                    terminate_requested=row.terminate_requested_at is not None,
                    create_sent_at=row.create_sent_at,
                    create_queued=row.id in queued_creates,
                    born_at=born.get(row.id),
                    destroy_sent_at=self._destroy_sent_at(row, destroyed),
                )
                for row in rows
            ],
            leases=[
                LeaseView(
                    lease.id or 0,
                    lease.instance_id,
                    lease.job_id,
                    lease.expires_at,
                    acquired_at=lease.acquired_at,
                )
                for lease in leases.open_leases(session, pool=self.pool)
            ],
            queued_jobs=self.queued_jobs(session),
            last_demand_at=config.last_demand_at,
            prewarm_until=_later(config.prewarm_until, advice.prewarm_until if advice else None),
            # Budgets count a day checked against the provider's bill at its billed figure.
            spend_today_usd=billing.budget_spend_since(
                session, pool=self.pool, since=costs.day_start(now)
            ),
            spend_month_usd=billing.budget_spend_since(
                session, pool=self.pool, since=costs.month_start(now)
            ),
            destroyed_at=destroyed,
        )
        live = {row.id for row in rows}
        with self._sent_lock:
            self._born = {row_id: at for row_id, at in self._born.items() if row_id in live}
        return settings, view, advice

    @staticmethod
    def _destroy_sent_at(row: sa.Row[Any], destroyed: dict[str, datetime]) -> datetime | None:
        """When a terminating row's last destroy was asked for: the later of its commit and
        the last destroy this manager saw return (`destroyed`: now while one is pending)."""
        if row.state is not InstanceState.TERMINATING:
            return None
        returned = destroyed.get(row.provider_id) if row.provider_id else None
        return _later(row.terminate_requested_at, returned)

    def relearn(self) -> adaptive.DemandProfile | None:
        """Learn the demand profile again from the last `adaptive.WINDOW_DAYS` of submissions
        and keep it for the ticks, which only read it (the scheduler runs this as its own
        hourly job: a busy month is seconds of CPU, which must never hold up a tick). The
        profile learnt, kept; None when there was too little history (kept too: the ticks
        then use the configured idle timeout) or when the pool is not adaptive (the kept
        one left as it was).

        Costs that change meanwhile (a new boot measured) reach the prewarm at the next tick
        and the learnt idle timeouts at the next relearning."""
        now = self.clock.now()
        with read_scope(self.engine) as session:
            config = self._config(session)
            if not config.adaptive:
                return None
            pool_costs = self._costs(session, config)
            arrivals = session.exec(
                select(GenerationJob.created_at).where(
                    GenerationJob.created_at >= now - timedelta(days=adaptive.WINDOW_DAYS)
                )
            ).all()
        # Learnt outside the read: a long snapshot would hold back PostgreSQL's vacuum.
        profile = adaptive.learn(arrivals, now, pool_costs, max_instances=config.max_instances)
        self._profile = profile
        log.info(
            "pool.demand_learnt",
            extra={"pool": self.pool, "arrivals": len(arrivals), "learnt": profile is not None},
        )
        return profile

    def _costs(self, session: Session, config: PoolConfig) -> adaptive.Costs:
        """What idling and a cold start cost the pool now, as the adaptive policy weighs them."""
        price = session.exec(
            select(col(GpuInstance.price_per_hour_usd))
            .where(GpuInstance.pool == self.pool, col(GpuInstance.price_per_hour_usd) > 0)
            .order_by(col(GpuInstance.id).desc())
            .limit(1)
        ).first()
        # Until something was rented, the cap is the pessimistic price: it errs toward idling.
        return adaptive.Costs(
            price_per_hour_usd=price or config.max_price_per_hour_usd,
            boot_s=outlook.expected_boot_s(
                session, pool=self.pool, default_s=adaptive.DEFAULT_BOOT_S
            ),
            wait_value_per_hour_usd=config.wait_value_per_hour_usd,
        )

    def _advice(self, session: Session, config: PoolConfig, now: datetime) -> adaptive.Advice:
        """What the demand of the last weeks advises (the policy takes it as its inputs), from
        the profile the last `relearn` kept: a tick never learns."""
        advice = adaptive.advise(
            self._profile,
            self._costs(session, config),
            now=now,
            last_demand_at=config.last_demand_at,
            fallback_idle_s=config.idle_timeout_s,
        )
        log.debug("pool.adaptive_advice", extra={"pool": self.pool, "reason": advice.reason})
        return advice

    def _config(self, session: Session) -> PoolConfig:
        config = session.get(PoolConfig, self.pool)
        if config is None:
            raise LookupError(f"pool {self.pool!r} has no PoolConfig row; run ensure_pool first")
        return config

    def _sync_and_check(self, observed: Sequence[RemoteInstance], now: datetime) -> dict[int, bool]:
        """Copy what the provider says onto our rows, accrue cost, health-check booting ones."""
        found: dict[int, Health] = {}
        for instance_id, url in self._sync(observed, now).items():
            found[instance_id] = result = self.health_check(url)
            if result.absent:
                self._ask_for(instance_id, url, result.absent)
            self._examined.add(instance_id)
        health = self._record_health(found) if found else {}
        for instance_id, result in found.items():
            self._check_asked(instance_id, result, now)
            given_up = self._note_failed(instance_id, result.failed)
            if given_up:  # its own unit of work: jobs are locked before instances
                with session_scope(self.engine) as session:
                    self._fail_jobs_needing(session, given_up, now)
                self.alert(
                    "model_file_failed",
                    f"{', '.join(sorted(given_up))} failed its check on "
                    f"{FAILED_FILE_MACHINES} machines: check its catalogue entry",
                )
        return health

    def _sync(self, observed: Sequence[RemoteInstance], now: datetime) -> dict[int, str]:
        """One transaction for every live row: what the provider says copied on, the cost
        since the last tick accrued (rows, events and the day's total); the ComfyUI URL of
        each row to health-check (booting, or ready with downloads pending). The rows are
        read as plain columns and written in one batched UPDATE."""
        by_label = {remote.label: remote for remote in observed if remote.label}
        to_check: dict[int, str] = {}
        updates: list[dict[str, object]] = []
        accruals: list[costs.Accrual] = []
        with session_scope(self.engine) as session:
            rows = session.execute(
                sa.select(*_SYNC_COLUMNS).where(
                    col(GpuInstance.pool) == self.pool,
                    col(GpuInstance.state).in_(LIVE_INSTANCE_STATES),
                )
            ).all()
            for row in rows:
                remote = _listed_as_ours(row, by_label.get(row.label))
                synced = _synced(row, remote)
                price = remote.price_per_hour_usd if remote else None
                amount, seconds = costs.accrual_due(
                    provider_id=row.provider_id,
                    price_per_hour_usd=price or row.price_per_hour_usd,
                    since=row.accrued_until or row.created_at,
                    now=now,
                )
                accrued = {
                    "cost_accrued_usd": row.cost_accrued_usd,
                    "accrued_until": row.accrued_until,
                }
                if amount > 0:
                    accrued = {
                        "cost_accrued_usd": row.cost_accrued_usd + amount,
                        "accrued_until": now,
                    }
                    accruals.append(costs.Accrual(self.pool, row.id, amount, seconds))
                values = synced | accrued
                if any(getattr(row, name) != value for name, value in values.items()):
                    updates.append(
                        {"row_id": row.id} | {f"new_{name}": v for name, v in values.items()}
                    )
                url = _to_check(row, remote, examined=row.id in self._examined)
                if url is not None:
                    to_check[row.id] = url
            if updates:
                # Money path: an accrual is written on its row and as its event in one unit
                # of work, so a crash between them can neither charge twice nor lose one.
                session.execute(_SYNC_UPDATE, updates)
            costs.record_accruals(session, accruals=accruals, now=now)
        return to_check

    def _record_health(self, found: dict[int, Health]) -> dict[int, bool]:
        """Write the health checks' findings in one transaction; per instance, whether the
        plan should count it healthy (booting) or replace it (ready, a model it can never
        have)."""
        health: dict[int, bool] = {}
        with session_scope(self.engine) as session:
            for instance_id, result in found.items():
                instance = session.get(GpuInstance, instance_id)
                if instance is None:
                    continue
                if instance.state is InstanceState.BOOTING:
                    health[instance_id] = result.reason is None
                    instance.models_pending = sorted(result.pending)
                elif result.failed:  # ready with a model it can never have: replace it
                    health[instance_id] = False
                elif result.reason is None or result.absent:  # a download landed, or asked for
                    instance.models_pending = sorted(result.pending)
                instance.health_reason = result.reason
                session.add(instance)
        return health

    def _check_asked(self, instance_id: int, found: Health, now: datetime) -> None:
        """Replace a ready instance that has left files asked for unread for ASK_TIMEOUT
        since its start's own downloads were done."""
        if not found.absent or found.pending - found.absent:
            self._asked_at.pop(instance_id, None)  # nothing asked, or its watcher not begun
            return
        since = self._asked_at.setdefault(instance_id, now)
        if now - since < ASK_TIMEOUT:
            return
        with session_scope(self.engine) as session:
            row = session.get(GpuInstance, instance_id)
            if row is None or row.state is not InstanceState.READY:
                return
            row.terminate_requested_at = row.terminate_requested_at or now
            row.health_reason = (
                f"did not fetch {', '.join(sorted(found.absent))} when asked (started by an "
                "older start script?): replaced by one launched with it"
            )[:500]
            session.add(row)
        self._asked_at.pop(instance_id, None)
        log.warning("pool.asked_files_unread", extra={"instance_id": instance_id})

    def _ask_for(self, instance_id: int, url: str, paths: frozenset[str]) -> None:
        """Ask instance `instance_id` for the downloads it started without (asked again each
        tick until its report lists them: asking twice fetches nothing twice)."""
        try:
            self.ask_for_downloads(url, paths)
        except CoreError as exc:
            log.warning(
                "pool.ask_for_downloads_failed",
                extra={"instance_id": instance_id, "error": str(exc)},
            )
            return
        log.info(
            "pool.downloads_asked",
            extra={"instance_id": instance_id, "paths": sorted(paths)},
        )

    def _note_failed(self, instance_id: int, failed: Sequence[str]) -> set[str]:
        """Record the files that failed their check on this instance's machine; those that
        now failed on FAILED_FILE_MACHINES machines (the file, not a machine, is bad)."""
        if not failed:
            return set()
        with read_scope(self.engine) as session:
            row = session.get(GpuInstance, instance_id)
            machine = (row.machine_id if row else None) or f"instance-{instance_id}"
        for path in failed:
            self._failed_on.setdefault(path, set()).add(machine)
        return {path for path in failed if len(self._failed_on[path]) >= FAILED_FILE_MACHINES}

    def _fail_jobs_needing(self, session: Session, failed: set[str], now: datetime) -> None:
        """Fail and refund the queued jobs that load a file which failed its check on several
        machines: every instance fetches the same file, so they would wait for ever."""
        queued = session.exec(
            select(GenerationJob).where(GenerationJob.status == JobStatus.QUEUED)
        ).all()
        for job in queued:
            bad = sorted(failed & set(self.job_needs(job)))
            locked = locks.lock_job(session, job.id or 0) if bad else None
            if locked is None or locked.status is not JobStatus.QUEUED:
                continue
            self.job_hooks.fail(
                session,
                job_id=job.id or 0,
                reason=(
                    f"The model file {', '.join(bad)} failed its size and sha256 check on "
                    f"{FAILED_FILE_MACHINES} GPUs (the catalogue's entry may be wrong; an "
                    "operator has been alerted). Your credits were refunded."
                ),
                now=now,
            )

    # ---- executing actions ----------------------------------------------------------------

    def _execute(self, action: Action) -> None:
        match action:
            case Rent(count=count, reason=reason):
                self._rent(count, reason)
            case Adopt(instance_id=instance_id, provider_id=provider_id):
                self._update(instance_id, state=InstanceState.BOOTING, provider_id=provider_id)
                self._event("instance_adopted", instance_id)
            case MarkReady(instance_id=instance_id):
                self._mark_ready(instance_id)
            case Terminate():
                self._terminate(action)
            case RetryDestroy(provider_id=provider_id):
                self._destroy(provider_id)
            case ConfirmTerminated(instance_id=instance_id, reason=reason):
                self._confirm_terminated(instance_id, reason)
            case MarkLost(instance_id=instance_id, reason=reason):
                self._mark_lost(instance_id, reason)
            case DestroyOrphan(provider_id=provider_id, label=label):
                self.alert(
                    "orphan", f"destroying unknown instance {label}", provider_id=provider_id
                )
                self._destroy(provider_id)
                self._event("orphan_destroyed", None, provider_id=provider_id, label=label)
            case ExpireLease(lease_id=lease_id, job_id=job_id):
                self._expire_lease(lease_id, job_id)
            case EnterSafeMode(reason=reason):
                self._enter_safe_mode(reason)

    def _rent(self, count: int, reason: str) -> None:
        """Commit `count` requested rows and queue their creates (one batch: one offer
        search serves them, searched again only when its offers run out)."""
        now = self.clock.now()
        with read_scope(self.engine) as session:
            config = self._config(session)
            bad = session.exec(
                select(BadMachine.machine_id).where(
                    BadMachine.pool == self.pool, BadMachine.until > now
                )
            ).all()
            offer_filter = OfferFilter(
                min_vram_gb=config.min_vram_gb,
                max_price_per_hour_usd=config.max_price_per_hour_usd,
                gpu_names=tuple(config.gpu_names),
                min_reliability=config.min_reliability,
                min_disk_gb=config.disk_gb,
                excluded_machine_ids=tuple(bad),
                min_inet_down_mbps=config.min_inet_down_mbps,
            )
            # Bound to the config as read now; each rental adds its own ComfyUI token nonce.
            launch = partial(self.launch, config)
        self._batch += 1
        for instance_id, label, token_nonce in self._new_rows(count, reason):
            create = _Create(instance_id, label, token_nonce, launch, offer_filter, self._batch)
            self.creates.put(instance_id, partial(self._send_create, create))

    def _send_create(self, create: _Create) -> None:
        """Create one instance for `create`'s row from its batch's offers (trying a few),
        unless its batch was halted; a failure halts the batch: its creates not yet sent
        are closed unsent, and the next tick plans again."""
        halted = self._halted.get(create.batch)
        if halted is not None:
            self._close_unrented(create.instance_id, halted)
            return
        try:
            spec = create.launch(create.token_nonce)  # a launch refused rents nothing
            if not self._create_from_offers(create, spec):
                self._halt(create, "no offer matched the pool's filters")
        except ProviderUnavailable:
            self._halted = {create.batch: "not sent: the provider was unavailable"}
            raise
        except CoreError as exc:  # a definite refusal (of the search, the launch, the create)
            self._halt(create, f"create refused: {exc}")
            raise

    def _create_from_offers(self, create: _Create, spec: LaunchSpec) -> bool:
        """Send the create from the front of the batch's offers (consuming what it tries);
        False when no offer was left to try. A create sent whose outcome is unknown
        (ProviderUnavailable) leaves the row `requested` for a later sweep to adopt or close;
        a row closed before its create could be sent (a newer leader) is left as it is."""
        for _ in range(OFFERS_TRIED_PER_RENT):
            offer = self._next_offer(create)
            if offer is None:
                return False
            if not self._note_create_sent(create.instance_id, offer):
                self._halted = {create.batch: "not sent: its batch's rows were closed"}
                return True  # closed meanwhile (a newer leader): sending now could only leak
            try:
                provider_id = self.provider.create(offer, create.label, spec)
            except OfferUnavailable:
                continue  # someone else rented it; a definite "no", nothing was created
            except ProviderUnavailable:
                # Outcome unknown: the row stays `requested`; the next list adopts or closes it.
                log.warning("pool.create_unknown", extra={"instance_id": create.instance_id})
                raise
            self._record_created(create.instance_id, provider_id, offer)
            return True
        return False

    def _next_offer(self, create: _Create) -> Offer | None:
        """The next untried offer of `create`'s batch, searched for when none is left."""
        batch, offers = self._offers
        if batch != create.batch or not offers:
            offers = list(self.provider.search_offers(create.offer_filter))
            self._offers = (create.batch, offers)
        return offers.pop(0) if offers else None

    def _halt(self, create: _Create, reason: str) -> None:
        """Close `create`'s row unrented and every later create of its batch with it (the
        queue is in order: an older batch has no create left to halt)."""
        self._halted = {create.batch: reason}
        self._close_unrented(create.instance_id, reason)

    def _new_rows(self, count: int, reason: str) -> list[tuple[int, str, str]]:
        """Commit `count` requested rows, their labels and token nonces before any create
        call, in one transaction; each one's (id, label, token nonce)."""
        now = self.clock.now()
        with session_scope(self.engine) as session:
            # The rows and their labels are committed before the provider calls: a create
            # that times out or a process killed mid-call is adopted by label on a later
            # tick, never created a second time. The nonce keeps labels unique even where row
            # ids are handed out again (a database restored from an older backup): a new row
            # must never "adopt" an instance some forgotten row rented.
            nonces = [secrets.token_hex(4) for _ in range(count)]
            rows = [
                GpuInstance(
                    pool=self.pool,
                    label=f"{self.prefix}new-{nonce}",
                    created_at=now,
                    comfy_token_nonce=secrets.token_hex(16),
                )
                for nonce in nonces
            ]
            # Plain executemany statements: the ORM's unit of work costs ~1 ms a row, a
            # second for the 1,000 rows of a pool scaling up from none.
            ids = (
                session.execute(
                    sa.insert(_GPU_TABLE).returning(_GPU_TABLE.c.id, sort_by_parameter_order=True),
                    [row.model_dump(exclude={"id"}) for row in rows],
                )
                .scalars()
                .all()
            )
            made = [
                (row_id, f"{self.prefix}{row_id}-{nonce}", row.comfy_token_nonce or "")
                for row_id, nonce, row in zip(ids, nonces, rows, strict=True)
            ]
            session.execute(
                _LABEL_UPDATE, [{"row_id": row_id, "new_label": label} for row_id, label, _ in made]
            )
            session.execute(
                sa.insert(_USAGE_TABLE),
                [
                    self._usage(
                        "instance_requested", row_id, now, details={"reason": reason}
                    ).model_dump(exclude={"id"})
                    for row_id, _label, _nonce in made
                ],
            )
        return made

    def _note_create_sent(self, instance_id: int, offer: Offer) -> bool:
        """Commit, just before a create call, that it is being sent; False if the row is no
        longer requested. A requested row without this mark never reached the provider, so
        the next tick may close it at once instead of holding capacity for the list grace."""
        with session_scope(self.engine) as session:
            marked = session.execute(
                sa.update(GpuInstance)
                .where(col(GpuInstance.id) == instance_id)
                .where(col(GpuInstance.state) == InstanceState.REQUESTED)
                .values(create_sent_at=self.clock.now(), offer_id=str(offer.id))
                .execution_options(synchronize_session=False)
            )
        return bool(marked.rowcount == 1)  # type: ignore[attr-defined]

    def _record_created(self, instance_id: int, provider_id: str, offer: Offer) -> None:
        with session_scope(self.engine) as session:
            row = self._row(session, instance_id)
            if row.state is InstanceState.REQUESTED:
                row.state = InstanceState.BOOTING
            row.provider_id = provider_id
            row.offer_id = str(offer.id)
            row.machine_id = str(offer.machine_id)
            row.gpu_name = offer.gpu_name
            row.num_gpus = offer.num_gpus
            row.price_per_hour_usd = offer.price_per_hour_usd
            session.add(row)
        with self._sent_lock:
            self._born[instance_id] = self.clock.now()
        self._event("instance_created", instance_id, provider_id=provider_id)

    def _close_unrented(self, instance_id: int, reason: str) -> None:
        """A create that definitely produced nothing: the row ends without any cost."""
        now = self.clock.now()
        self._update(
            instance_id,
            state=InstanceState.TERMINATED,
            terminated_at=now,
            terminate_reason=reason,
        )
        log.info("pool.rent_failed", extra={"instance_id": instance_id, "reason": reason})

    def _mark_ready(self, instance_id: int) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            row = self._row(session, instance_id)
            row.state = InstanceState.READY
            row.ready_at = now
            boot_s = (now - row.created_at).total_seconds()
            session.add(row)
            session.add(self._usage("instance_ready", instance_id, now, duration_s=boot_s))

    def _terminate(self, action: Terminate) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            locks.lock_jobs_on_instance(session, action.instance_id)  # core.locks order
            row = self._row(session, action.instance_id)
            row.state = InstanceState.TERMINATING
            row.terminate_requested_at = now
            row.terminate_reason = action.reason
            row.provider_id = row.provider_id or action.provider_id
            session.add(row)
            if action.bad_machine:
                known = session.get(BadMachine, (self.pool, action.bad_machine))
                machine = known or BadMachine(
                    pool=self.pool, machine_id=action.bad_machine, reason=action.reason, until=now
                )
                machine.until = now + BAD_MACHINE_TTL
                session.add(machine)
            self._fail_jobs_on(session, action.instance_id, action.reason, now)
            session.add(
                self._usage(
                    "instance_terminating",
                    action.instance_id,
                    now,
                    details={"reason": action.reason},
                )
            )
        if action.bad_machine:
            # Alerted after the commit: a slow webhook must not hold the database's write lock.
            self.alert(
                "boot_failed",
                f"instance {action.instance_id}: {action.reason}",
                machine_id=action.bad_machine,
            )
        # Destroy, never stop: a stopped Vast instance still bills its disk.
        if action.provider_id is not None:
            self._destroy(action.provider_id)

    def _destroy(self, provider_id: str) -> None:
        """Queue a destroy at the provider (once: not again while one is pending)."""
        self.destroys.put(provider_id, partial(self._send_destroy, provider_id))

    def _send_destroy(self, provider_id: str) -> None:
        """Destroy at the provider and remember when it returned: a sweep begun before then
        is not taken to judge it. One that failed is not remembered: the next sweep that
        still lists the instance has it destroyed again."""
        self.provider.destroy(provider_id)
        with self._sent_lock:
            self._destroyed[provider_id] = self.clock.now()

    def _fail_jobs_on(self, session: Session, instance_id: int, reason: str, now: datetime) -> None:
        for lease in session.exec(
            select(Lease).where(Lease.instance_id == instance_id, col(Lease.released_at).is_(None))
        ).all():
            if leases.release(session, lease_id=lease.id or 0, now=now, outcome="terminated"):
                self.job_hooks.requeue_or_fail(
                    session, job_id=lease.job_id, reason=f"GPU instance stopped: {reason}", now=now
                )

    def _confirm_terminated(self, instance_id: int, reason: str) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            row = self._row(session, instance_id)
            costs.accrue(session, instance=row, now=now)
            row.state = InstanceState.TERMINATED
            row.terminated_at = now
            row.terminate_reason = row.terminate_reason or reason
            session.add(row)
            session.add(
                self._usage(
                    "instance_terminated",
                    instance_id,
                    now,
                    cost_usd=Decimal(0),
                    duration_s=(now - row.created_at).total_seconds(),
                    details={"reason": row.terminate_reason, "cost_usd": str(row.cost_accrued_usd)},
                )
            )

    def _mark_lost(self, instance_id: int, reason: str) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            locks.lock_jobs_on_instance(session, instance_id)  # core.locks order
            row = self._row(session, instance_id)
            row.state = InstanceState.LOST
            row.terminated_at = now
            row.terminate_reason = reason
            session.add(row)
            self._fail_jobs_on(session, instance_id, reason, now)
            session.add(self._usage("instance_lost", instance_id, now, details={"reason": reason}))
        self.alert("instance_lost", f"instance {instance_id} {reason}", instance_id=instance_id)

    def _expire_lease(self, lease_id: int, job_id: int) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            locks.lock_job(session, job_id)  # core.locks order: the balance, the job, the lease
            if leases.release(session, lease_id=lease_id, now=now, outcome="expired"):
                self.job_hooks.fail(
                    session,
                    job_id=job_id,
                    reason="the generation took longer than allowed",
                    now=now,
                )

    def _enter_safe_mode(self, reason: str) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            config = self._config(session)
            config.safe_mode = True
            config.safe_mode_reason = reason
            session.add(config)
            audit.record(
                session,
                at=now,
                actor="system",
                action="pool.safe_mode_on",
                target=f"pool:{self.pool}",
                outcome=AuditOutcome.OK,
                details={"reason": reason},
            )
        self.alert("safe_mode", f"pool {self.pool} entered safe mode: {reason}", pool=self.pool)

    # ---- small helpers --------------------------------------------------------------------

    def _row(self, session: Session, instance_id: int) -> GpuInstance:
        row = session.get(GpuInstance, instance_id)
        if row is None:
            raise LookupError(f"instance row {instance_id} vanished")
        return row

    def _update(self, instance_id: int, **values: object) -> None:
        with session_scope(self.engine) as session:
            row = self._row(session, instance_id)
            for name, value in values.items():
                setattr(row, name, value)
            session.add(row)

    def _usage(self, kind: str, instance_id: int | None, at: datetime, **fields: Any) -> UsageEvent:
        """A usage event of this pool's (`fields`: duration_s, cost_usd, details)."""
        return UsageEvent(at=at, pool=self.pool, kind=kind, instance_id=instance_id, **fields)

    def _event(self, kind: str, instance_id: int | None, **details: object) -> None:
        with session_scope(self.engine) as session:
            session.add(self._usage(kind, instance_id, self.clock.now(), details=dict(details)))

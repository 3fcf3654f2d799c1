"""What operators (admin pages, the CLI) do to a pool. Every change is audited.

These functions only change the database; the scheduler's next reconcile carries them out.
That keeps one process (the leader) talking to the provider, so an operator's click can never
race the leader into a double rental or a missed destroy.

Every change checks who asks, here and not only on the page: a signed-in actor must be an
enabled administrator in the same transaction (so a demoted admin's open page changes
nothing), and a command-line actor must carry a verified admin key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import audit
from core.accounts import users
from core.accounts.inputs import require_int, require_plain
from core.config import Settings
from core.errors import NotFound, ValidationFailed
from core.models import (
    LIVE_INSTANCE_STATES,
    AuditOutcome,
    GenerationJob,
    GpuInstance,
    InstanceState,
    JobStatus,
    Lease,
    PoolConfig,
)
from core.pool import billing, costs

MAX_PREWARM_MIN = 12 * 60
STARTING_STATES = frozenset({InstanceState.REQUESTED, InstanceState.BOOTING})
"""States of an instance that is on its way to ready."""
MAX_WAIT_VALUE_USD = Decimal(1000)
MAX_BUDGET_USD = Decimal(1_000_000)  # stored as micro-dollars in a BIGINT


@dataclass(frozen=True)
class Actor:
    """Who asks: a signed-in user (`user_id`) or the admin key, with the key's HMAC
    fingerprint when a key was used. `admin_key` is set only once the key was verified
    (`cli.admin_key.authenticate`)."""

    name: str
    fingerprint: str | None = None
    ip: str | None = None
    user_id: int | None = None
    admin_key: bool = False


def authorize(session: Session, actor: Actor, *, doing: str) -> None:
    """Pass if `actor` may run pool-admin actions, else ValidationFailed saying what not."""
    if actor.user_id is not None:
        users.require_admin(session, actor.user_id, doing=doing)
        return
    if not actor.admin_key:
        raise ValidationFailed(f"Only administrators can {doing}.")


@dataclass(frozen=True)
class InstanceStatus:
    """One instance as the pool page shows it."""

    id: int
    label: str
    state: InstanceState
    gpu_name: str | None
    price_per_hour_usd: Decimal
    comfy_url: str | None
    health_reason: str | None
    created_at: datetime
    ready_at: datetime | None
    last_used_at: datetime | None
    leased_by_job: int | None
    lease_expires_at: datetime | None
    cost_accrued_usd: Decimal
    uptime_s: float = 0.0
    endpoint_health: str = ""


@dataclass(frozen=True)
class PoolStatus:
    """A pool's settings, live instances, queue and spend."""

    config: PoolConfig
    instances: list[InstanceStatus]
    queued_jobs: int
    running_jobs: int
    spend_today_usd: Decimal
    spend_month_usd: Decimal


def ensure_pool(session: Session, settings: Settings) -> PoolConfig:
    """The PoolConfig row for `settings.pool_name`, created from settings on first start."""
    config = session.get(PoolConfig, settings.pool_name)
    if config is None:
        config = PoolConfig(
            name=settings.pool_name,
            desired_size=settings.pool_desired_size,
            max_instances=settings.pool_max_instances,
            idle_timeout_s=settings.pool_idle_timeout_s,
            lease_max_s=settings.pool_lease_max_s,
            boot_timeout_s=settings.pool_boot_timeout_s,
            daily_budget_usd=settings.pool_daily_budget_usd,
            monthly_budget_usd=settings.pool_monthly_budget_usd,
        )
        session.add(config)
        session.flush()
    return config


def status(session: Session, *, pool: str, now: datetime) -> PoolStatus:
    """Everything the pool page and `pool status` show."""
    config = _config(session, pool)
    rows = session.exec(
        select(GpuInstance)
        .where(GpuInstance.pool == pool, col(GpuInstance.state).in_(LIVE_INSTANCE_STATES))
        .order_by(col(GpuInstance.id))
    ).all()
    open_leases = {
        lease.instance_id: lease
        for lease in session.exec(select(Lease).where(col(Lease.released_at).is_(None))).all()
    }
    instances = [
        InstanceStatus(
            id=row.id or 0,
            label=row.label,
            state=row.state,
            gpu_name=row.gpu_name,
            price_per_hour_usd=row.price_per_hour_usd,
            comfy_url=row.comfy_url,
            health_reason=row.health_reason,
            created_at=row.created_at,
            ready_at=row.ready_at,
            last_used_at=row.last_used_at,
            leased_by_job=open_leases[row.id].job_id if row.id in open_leases else None,
            lease_expires_at=open_leases[row.id].expires_at if row.id in open_leases else None,
            cost_accrued_usd=row.cost_accrued_usd,
            uptime_s=max(0.0, (now - row.created_at).total_seconds()),
            endpoint_health=endpoint_health(row),
        )
        for row in rows
    ]
    return PoolStatus(
        config=config,
        instances=instances,
        queued_jobs=_count_jobs(session, JobStatus.QUEUED),
        running_jobs=_count_jobs(session, JobStatus.RUNNING, JobStatus.LEASED),
        spend_today_usd=billing.budget_spend_since(session, pool=pool, since=costs.day_start(now)),
        spend_month_usd=billing.budget_spend_since(
            session, pool=pool, since=costs.month_start(now)
        ),
    )


def endpoint_health(row: GpuInstance) -> str:
    """What we know of an instance's ComfyUI endpoint, in a few words for operators.

    An instance is only ever `ready` after its endpoint answered with the required models, so
    ready and busy ones are healthy; a booting one shows the last failed check, if any.
    """
    match row.state:
        case InstanceState.READY | InstanceState.BUSY:
            return "healthy"
        case InstanceState.BOOTING if row.health_reason:
            return row.health_reason
        case InstanceState.BOOTING:
            return "waiting for ComfyUI" if row.comfy_url else "starting at the provider"
        case InstanceState.REQUESTED:
            return "not created yet"
        case InstanceState.TERMINATING:
            return "being destroyed"
        case _:
            return row.state.value


def set_desired_size(
    session: Session, *, pool: str, size: int, actor: Actor, now: datetime
) -> PoolConfig:
    """Keep at least `size` instances warm while awake (0..max_instances)."""
    authorize(session, actor, doing="change the warm size")
    config = _config(session, pool)
    if not 0 <= size <= config.max_instances:
        raise ValidationFailed(f"desired size must be between 0 and {config.max_instances}")
    before = config.desired_size
    config.desired_size = size
    return _save(session, config, actor, now, "pool.size", {"from": before, "to": size})


def set_safe_mode(
    session: Session, *, pool: str, on: bool, reason: str, actor: Actor, now: datetime
) -> PoolConfig:
    """Safe mode on: rent nothing, terminate everything at the next tick. Off: normal service.

    Turning it on takes a reason (shown on the pool page and to users waiting for a GPU)."""
    authorize(session, actor, doing="switch safe mode")
    require_plain({"reason": reason})
    reason = reason.strip()
    if on and not reason:
        raise ValidationFailed("say why safe mode goes on: the reason is shown to operators")
    config = _config(session, pool)
    config.safe_mode = on
    config.safe_mode_reason = reason if on else None
    action = "pool.safe_mode_on" if on else "pool.safe_mode_off"
    return _save(session, config, actor, now, action, {"reason": reason})


def prewarm(
    session: Session, *, pool: str, minutes: int, actor: Actor, now: datetime
) -> PoolConfig:
    """Wake the pool now and keep it awake for `minutes` (ahead of expected use): at least
    one instance is rented at the next tick whatever the desired size."""
    authorize(session, actor, doing="prewarm the pool")
    if not 1 <= minutes <= MAX_PREWARM_MIN:
        raise ValidationFailed(f"prewarm must be between 1 and {MAX_PREWARM_MIN} minutes")
    config = _config(session, pool)
    config.prewarm_until = now + timedelta(minutes=minutes)
    return _save(session, config, actor, now, "pool.prewarm", {"minutes": minutes})


def set_adaptive(
    session: Session,
    *,
    pool: str,
    on: bool,
    wait_value_per_hour_usd: Decimal | None,
    actor: Actor,
    now: datetime,
) -> PoolConfig:
    """Adaptive idle timeout and prewarm on or off (core.pool.adaptive); optionally change what
    an hour of a user's waiting is worth against idle GPU time (0..MAX_WAIT_VALUE_USD)."""
    authorize(session, actor, doing="change the adaptive policy")
    config = _config(session, pool)
    if wait_value_per_hour_usd is not None:
        if not 0 <= wait_value_per_hour_usd <= MAX_WAIT_VALUE_USD:
            raise ValidationFailed(f"wait value must be between 0 and {MAX_WAIT_VALUE_USD} USD/h")
        config.wait_value_per_hour_usd = wait_value_per_hour_usd
    config.adaptive = on
    details = {"on": on, "wait_value_per_hour_usd": str(config.wait_value_per_hour_usd)}
    return _save(session, config, actor, now, "pool.adaptive", details)


def set_budget(
    session: Session,
    *,
    pool: str,
    daily_usd: Decimal | None,
    monthly_usd: Decimal | None,
    actor: Actor,
    now: datetime,
) -> PoolConfig:
    """Change the daily and/or monthly spend caps (reaching one switches safe mode on)."""
    authorize(session, actor, doing="change the budget")
    config = _config(session, pool)
    for value in (daily_usd, monthly_usd):
        if value is not None and not value.is_finite():
            raise ValidationFailed(f"a budget is an amount of dollars, not {value}")
        if value is not None and value < 0:
            raise ValidationFailed("a budget cannot be negative")
        if value is not None and value > MAX_BUDGET_USD:
            raise ValidationFailed(f"a budget is at most {MAX_BUDGET_USD} USD")
    if daily_usd is not None:
        config.daily_budget_usd = daily_usd
    if monthly_usd is not None:
        config.monthly_budget_usd = monthly_usd
    details: dict[str, object] = {
        "daily_usd": str(config.daily_budget_usd),
        "monthly_usd": str(config.monthly_budget_usd),
    }
    return _save(session, config, actor, now, "pool.budget", details)


SETTING_LIMITS: dict[str, tuple[Decimal, Decimal]] = {
    "idle_timeout_s": (Decimal(60), Decimal(24 * 3600)),
    "lease_max_s": (Decimal(60), Decimal(6 * 3600)),
    "boot_timeout_s": (Decimal(60), Decimal(3 * 3600)),
    "min_vram_gb": (Decimal(4), Decimal(192)),
    "max_price_per_hour_usd": (Decimal("0.01"), Decimal(50)),
    "min_reliability": (Decimal("0.5"), Decimal(1)),
    "disk_gb": (Decimal(10), Decimal(2000)),
    "max_instances": (Decimal(0), Decimal(64)),
}


def update_settings(
    session: Session,
    *,
    pool: str,
    actor: Actor,
    now: datetime,
    gpu_names: Sequence[str] | None = None,
    **limits: int | float | Decimal,
) -> PoolConfig:
    """Change timeouts, machine filters or the cap; each value range-checked, all audited."""
    authorize(session, actor, doing="change pool settings")
    config = _config(session, pool)
    changes: dict[str, object] = {}
    if gpu_names is not None:
        require_plain({f"GPU name {n + 1}": name for n, name in enumerate(gpu_names)})
        changes["gpu_names"] = [name.strip() for name in gpu_names if name.strip()]
    for name, value in limits.items():
        if name not in SETTING_LIMITS:
            raise ValidationFailed(f"{name} cannot be changed here")
        low, high = SETTING_LIMITS[name]
        number = Decimal(str(value))
        if not (number.is_finite() and low <= number <= high):
            raise ValidationFailed(f"{name} must be between {low} and {high}")
        changes[name] = value
    if int(limits.get("max_instances", config.max_instances)) < config.desired_size:
        raise ValidationFailed("max instances cannot be below the desired warm size")
    for name, change in changes.items():
        setattr(config, name, change)
    details: dict[str, object] = {name: str(value) for name, value in changes.items()}
    return _save(session, config, actor, now, "pool.settings", details)


def request_terminate(
    session: Session, *, pool: str, instance_id: int | None, actor: Actor, now: datetime
) -> int:
    """Ask for one instance (or, with None, every live one) to be destroyed; return how many."""
    authorize(session, actor, doing="terminate instances")
    query = select(GpuInstance).where(
        GpuInstance.pool == pool,
        col(GpuInstance.state).in_(LIVE_INSTANCE_STATES - {InstanceState.TERMINATING}),
    )
    if instance_id is not None:
        require_int(instance_id, field="instance id", low=1, high=2**63 - 1)
        query = query.where(GpuInstance.id == instance_id)
    rows = session.exec(query).all()
    if instance_id is not None and not rows:
        raise NotFound(f"no live instance {instance_id} in pool {pool}")
    for row in rows:
        row.terminate_requested_at = now
        session.add(row)
    target = f"instance:{instance_id}" if instance_id is not None else f"pool:{pool}"
    audit_action(session, actor, now, "pool.terminate", target, {"count": len(rows)})
    return len(rows)


def _config(session: Session, pool: str) -> PoolConfig:
    config = session.get(PoolConfig, pool)
    if config is None:
        raise NotFound(f"no pool named {pool!r}")
    return config


def _count_jobs(session: Session, *statuses: JobStatus) -> int:
    query = select(sa.func.count()).select_from(GenerationJob)
    return int(session.exec(query.where(col(GenerationJob.status).in_(statuses))).one())


def _save(
    session: Session,
    config: PoolConfig,
    actor: Actor,
    now: datetime,
    action: str,
    details: dict[str, object],
) -> PoolConfig:
    config.updated_at = now
    session.add(config)
    audit_action(session, actor, now, action, f"pool:{config.name}", details)
    return config


def audit_action(
    session: Session,
    actor: Actor,
    now: datetime,
    action: str,
    target: str,
    details: dict[str, object] | None = None,
) -> None:
    """Record that `actor` (its name, key fingerprint and address) did `action` to `target`."""
    audit.record(
        session,
        at=now,
        actor=actor.name,
        actor_fingerprint=actor.fingerprint,
        ip=actor.ip,
        action=action,
        target=target,
        outcome=AuditOutcome.OK,
        details=details,
    )

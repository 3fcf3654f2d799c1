"""Leases: a job's exclusive, time-limited hold on one ready instance.

Claiming is a conditional UPDATE (`state = ready` -> `busy`) whose row count says who won,
backed by partial unique indexes (one open lease per instance and per job), so two
dispatchers can never put two jobs on one instance.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, col, select

from core.models import GpuInstance, InstanceState, Lease, PoolConfig

DEFAULT_LEASE_MAX_S: int = PoolConfig.model_fields["lease_max_s"].default
"""A lease's length on a pool with no config row: the column's default."""

DEMAND_RESOLUTION = timedelta(seconds=1)
"""How stale the pool's last demand may be let grow: within it, a later demand leaves the
row unwritten, so jobs finishing at once do not queue on one row's lock."""


@dataclass(frozen=True)
class Claim:
    """A won lease and the instance it holds."""

    lease_id: int
    instance_id: int
    comfy_url: str
    comfy_token_nonce: str | None
    """What the instance's own ComfyUI token derives from (`core.pool.launch.comfy_token`);
    None for a row without one (the pool-wide token)."""


@dataclass(frozen=True)
class FreeInstance:
    """What claiming reads of a ready instance: which it is, and what it still downloads."""

    id: int
    models_pending: Sequence[str]


def ready_instances(session: Session, *, pool: str) -> list[FreeInstance]:
    """`pool`'s ready instances with a ComfyUI address, the warmest (most recently used)
    first: the ones `acquire` may take, in the order it tries them. Two columns, not whole
    rows: a claim reads them every time, for every free instance."""
    rows = session.execute(
        sa.select(col(GpuInstance.id), col(GpuInstance.models_pending))
        .where(col(GpuInstance.pool) == pool, col(GpuInstance.state) == InstanceState.READY)
        .where(col(GpuInstance.comfy_url).is_not(None))
        .order_by(col(GpuInstance.last_used_at).desc(), col(GpuInstance.id))
    ).all()
    return [FreeInstance(instance_id, pending or ()) for instance_id, pending in rows]


def can_take(instance: FreeInstance, needs: Collection[str]) -> bool:
    """Whether `instance` may run a job loading `needs`: it downloads none of them still."""
    return not needs or set(needs).isdisjoint(instance.models_pending)


def acquire(
    session: Session,
    *,
    pool: str,
    job_id: int,
    now: datetime,
    needs: Collection[str] = (),
    candidates: Sequence[FreeInstance] | None = None,
) -> Claim | None:
    """Claim a ready instance of `pool` for `job_id`, or None if none is free; only one
    whose pending downloads include none of the model files the job `needs`. The lease
    runs for the pool's configured `lease_max_s` as it is at the claim
    (`DEFAULT_LEASE_MAX_S` for a pool without a config row).

    The warmest instance (most recently used) goes first, so idle ones age out.
    `candidates` is `ready_instances(session, pool=pool)` read already in this unit of work
    (each is still won by the conditional UPDATE, so a stale one is only passed over).
    """
    if candidates is None:
        candidates = ready_instances(session, pool=pool)
    lease_max_s = sa.func.coalesce(
        sa.select(col(PoolConfig.lease_max_s))
        .where(col(PoolConfig.name) == pool)
        .scalar_subquery(),
        DEFAULT_LEASE_MAX_S,
    )
    for instance in candidates:
        if not can_take(instance, needs):
            continue  # still downloading a model this job loads
        # The UPDATE that wins the instance also reads its address and token, as they are
        # now, and the pool's lease length: a claim sends no statement of its own for them.
        won = session.execute(
            sa.update(GpuInstance)
            .where(col(GpuInstance.id) == instance.id)
            .where(col(GpuInstance.state) == InstanceState.READY)
            .where(col(GpuInstance.comfy_url).is_not(None))
            .values(state=InstanceState.BUSY)
            .returning(col(GpuInstance.comfy_url), col(GpuInstance.comfy_token_nonce), lease_max_s)
            .execution_options(synchronize_session=False)
        ).first()
        if won is None:  # another claimer won it, or it left ready, meanwhile
            continue
        comfy_url, nonce, lease_s = won
        _expire_loaded(session, GpuInstance, instance.id, "state")
        lease_id = session.execute(
            sa.insert(Lease)
            .values(
                instance_id=instance.id,
                job_id=job_id,
                acquired_at=now,
                expires_at=now + timedelta(seconds=int(lease_s)),
            )
            .returning(col(Lease.id))
        ).scalar_one()
        return Claim(lease_id, instance.id, comfy_url, nonce)
    return None


@dataclass(frozen=True)
class Released:
    """A lease just closed: what the instance it held costs an hour now."""

    price_per_hour_usd: Decimal


def release(session: Session, *, lease_id: int, now: datetime, outcome: str) -> Released | None:
    """Close a lease, return its instance to ready and stamp last use; None if already closed.

    An instance that left `busy` meanwhile (terminated, lost) keeps its new state. Rows of
    the lease, its instance and its pool already loaded in `session` are expired where these
    UPDATEs changed them (read again on next use); nothing else in the session is. The
    instance's price is read by the UPDATE that frees it (what a job's settlement charges).
    """
    instance_id = session.execute(
        sa.update(Lease)
        .where(col(Lease.id) == lease_id, col(Lease.released_at).is_(None))
        .values(released_at=now, outcome=outcome)
        .returning(col(Lease.instance_id))
        .execution_options(synchronize_session=False)
    ).scalar()
    if instance_id is None:
        return None
    _expire_loaded(session, Lease, lease_id, "released_at", "outcome")
    state = col(GpuInstance.state)
    pool, price = session.execute(
        sa.update(GpuInstance)
        .where(col(GpuInstance.id) == instance_id)
        .values(
            state=sa.case((state == InstanceState.BUSY, InstanceState.READY), else_=state),
            last_used_at=now,
        )
        .returning(col(GpuInstance.pool), col(GpuInstance.price_per_hour_usd))
        .execution_options(synchronize_session=False)
    ).one()
    _expire_loaded(session, GpuInstance, instance_id, "state", "last_used_at")
    note_demand(session, pool=pool, now=now)
    return Released(price)


def _expire_loaded(session: Session, model: type[SQLModel], key: object, *names: str) -> None:
    """Expire `names` of the `model` row with primary key `key` if `session` holds it: an
    UPDATE run past the ORM changed them, and a caller reading the row again must see it."""
    loaded = session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        session.expire(loaded, list(names))


def note_demand(session: Session, *, pool: str, now: datetime) -> None:
    """Record that the pool was just needed (a job submitted or finished): keeps it awake.
    The recorded time is at most `DEMAND_RESOLUTION` older than `now` afterwards, and never
    moves back."""
    last = col(PoolConfig.last_demand_at)
    session.execute(
        sa.update(PoolConfig)
        .where(col(PoolConfig.name) == pool)
        .where(sa.or_(last.is_(None), last < now - DEMAND_RESOLUTION))
        .values(last_demand_at=now)
        .execution_options(synchronize_session=False)
    )
    _expire_loaded(session, PoolConfig, pool, "last_demand_at")


def open_leases(session: Session, *, pool: str) -> list[Lease]:
    """Every open lease on `pool`'s instances."""
    return list(
        session.exec(
            select(Lease)
            .join(GpuInstance, col(GpuInstance.id) == col(Lease.instance_id))
            .where(GpuInstance.pool == pool, col(Lease.released_at).is_(None))
        ).all()
    )

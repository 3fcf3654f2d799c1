"""Leases: a job's exclusive, time-limited hold on one ready instance.

Claiming is a conditional UPDATE (`state = ready` -> `busy`) whose row count says who won,
backed by partial unique indexes (one open lease per instance and per job), so two
dispatchers can never put two jobs on one instance.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.models import GpuInstance, InstanceState, Lease, PoolConfig


@dataclass(frozen=True)
class Claim:
    """A won lease and the instance it holds."""

    lease_id: int
    instance_id: int
    comfy_url: str


def ready_instances(session: Session, *, pool: str) -> list[GpuInstance]:
    """`pool`'s ready instances with a ComfyUI address, the warmest (most recently used)
    first: the ones `acquire` may take, in the order it tries them."""
    return list(
        session.exec(
            select(GpuInstance)
            .where(GpuInstance.pool == pool, GpuInstance.state == InstanceState.READY)
            .where(col(GpuInstance.comfy_url).is_not(None))
            .order_by(col(GpuInstance.last_used_at).desc(), col(GpuInstance.id))
        ).all()
    )


def can_take(instance: GpuInstance, needs: Collection[str]) -> bool:
    """Whether `instance` may run a job loading `needs`: it downloads none of them still."""
    return not needs or set(needs).isdisjoint(instance.models_pending)


def acquire(
    session: Session,
    *,
    pool: str,
    job_id: int,
    now: datetime,
    lease_max_s: int,
    needs: Collection[str] = (),
    candidates: Sequence[GpuInstance] | None = None,
) -> Claim | None:
    """Claim a ready instance of `pool` for `job_id`, or None if none is free; only one
    whose pending downloads include none of the model files the job `needs`.

    The warmest instance (most recently used) goes first, so idle ones age out.
    `candidates` is `ready_instances(session, pool=pool)` read already in this unit of work
    (each is still won by the conditional UPDATE, so a stale one is only passed over).
    """
    if candidates is None:
        candidates = ready_instances(session, pool=pool)
    for instance in candidates:
        if not can_take(instance, needs):
            continue  # still downloading a model this job loads
        won = session.execute(
            sa.update(GpuInstance)
            .where(col(GpuInstance.id) == instance.id)
            .where(col(GpuInstance.state) == InstanceState.READY)
            .values(state=InstanceState.BUSY)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue
        lease = Lease(
            instance_id=instance.id or 0,
            job_id=job_id,
            acquired_at=now,
            expires_at=now + timedelta(seconds=lease_max_s),
        )
        session.add(lease)
        session.flush()
        session.refresh(instance)
        return Claim(lease.id or 0, instance.id or 0, instance.comfy_url or "")
    return None


def release(session: Session, *, lease_id: int, now: datetime, outcome: str) -> bool:
    """Close a lease, return its instance to ready and stamp last use; False if already closed.

    An instance that left `busy` meanwhile (terminated, lost) keeps its new state.
    """
    instance_id = session.execute(
        sa.update(Lease)
        .where(col(Lease.id) == lease_id, col(Lease.released_at).is_(None))
        .values(released_at=now, outcome=outcome)
        .returning(col(Lease.instance_id))
        .execution_options(synchronize_session=False)
    ).scalar()
    if instance_id is None:
        return False
    state = col(GpuInstance.state)
    session.execute(
        sa.update(GpuInstance)
        .where(col(GpuInstance.id) == instance_id)
        .values(
            state=sa.case((state == InstanceState.BUSY, InstanceState.READY), else_=state),
            last_used_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    instance = session.get(GpuInstance, instance_id)
    if instance is not None:
        note_demand(session, pool=instance.pool, now=now)
    session.expire_all()
    return True


def note_demand(session: Session, *, pool: str, now: datetime) -> None:
    """Record that the pool was just needed (a job submitted or finished): keeps it awake."""
    session.execute(
        sa.update(PoolConfig)
        .where(col(PoolConfig.name) == pool)
        .values(last_demand_at=now)
        .execution_options(synchronize_session=False)
    )


def open_leases(session: Session, *, pool: str) -> list[Lease]:
    """Every open lease on `pool`'s instances."""
    return list(
        session.exec(
            select(Lease)
            .join(GpuInstance, col(GpuInstance.id) == col(Lease.instance_id))
            .where(GpuInstance.pool == pool, col(Lease.released_at).is_(None))
        ).all()
    )

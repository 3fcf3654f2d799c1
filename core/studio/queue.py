"""The fair queue: dispatch order between users, a job's place in it, and claiming the next.

The queue only orders and claims; running a claimed job is the runner's (`core.studio.runner`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import locks
from core.models import GenerationJob, JobStatus, PoolConfig
from core.pool import leases
from core.pool.leases import Claim


def fair_queue(session: Session, *, limit: int = 100) -> list[GenerationJob]:
    """Queued jobs in dispatch order: FIFO per user, round-robin between users.

    Users with fewer jobs already on a GPU go first (ties: whoever has waited longest), so
    one user's burst of submissions cannot hold everyone else behind it.
    """
    queued = session.exec(
        select(GenerationJob)
        .where(GenerationJob.status == JobStatus.QUEUED)
        .order_by(col(GenerationJob.created_at), col(GenerationJob.id))
        .limit(limit * 4)
    ).all()
    per_user: dict[int, list[GenerationJob]] = {}
    for job in queued:
        per_user.setdefault(job.user_id, []).append(job)
    in_flight = dict(
        session.exec(
            select(GenerationJob.user_id, sa.func.count())
            .where(
                col(GenerationJob.status).in_((JobStatus.LEASED, JobStatus.RUNNING)),
                col(GenerationJob.user_id).in_(list(per_user)),
            )
            .group_by(col(GenerationJob.user_id))
        ).all()
    )
    users = sorted(per_user, key=lambda user_id: in_flight.get(user_id, 0))
    ordered: list[GenerationJob] = []
    round_number = 0
    while len(ordered) < len(queued):
        for user_id in users:
            jobs_of_user = per_user[user_id]
            # A user with k jobs in flight joins the rotation k rounds late.
            turn = round_number - in_flight.get(user_id, 0)
            if 0 <= turn < len(jobs_of_user):
                ordered.append(jobs_of_user[turn])
        round_number += 1
    return ordered[:limit]


def queue_position(session: Session, job_id: int) -> int | None:
    """1-based place of a queued job in dispatch order, or None if it is not queued."""
    return queue_positions(session).get(job_id)


def queue_positions(session: Session) -> dict[int, int]:
    """Each queued job's 1-based place in dispatch order (the first 1,000)."""
    return {
        job.id or 0: place for place, job in enumerate(fair_queue(session, limit=1000), start=1)
    }


def count_queued(session: Session) -> int:
    """How many jobs wait for an instance."""
    query = select(sa.func.count()).select_from(GenerationJob)
    return int(session.exec(query.where(GenerationJob.status == JobStatus.QUEUED)).one())


def claim_next(session: Session, *, pool: str, now: datetime) -> tuple[int, Claim] | None:
    """Give the first job in fair order a ready instance; None when no job or no instance."""
    config = session.get(PoolConfig, pool)
    lease_max_s = config.lease_max_s if config else 1800
    for candidate in fair_queue(session, limit=1):
        # Lock order (core.locks): the job before the instance; a job cancelled meanwhile
        # is left alone.
        job = locks.lock_job(session, candidate.id or 0)
        if job is None or job.status is not JobStatus.QUEUED:
            return None
        claim = leases.acquire(
            session, pool=pool, job_id=job.id or 0, now=now, lease_max_s=lease_max_s
        )
        if claim is None:
            return None
        job.status = JobStatus.LEASED
        job.instance_id = claim.instance_id
        job.updated_at = now
        session.add(job)
        return job.id or 0, claim
    return None

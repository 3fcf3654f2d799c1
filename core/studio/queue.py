"""The fair queue: dispatch order between users, a job's place in it, and claiming the next.

The queue only orders and claims; running a claimed job is the runner's (`core.studio.runner`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core import locks
from core.models import GenerationJob, GpuInstance, InstanceState, JobStatus
from core.pool import leases
from core.pool.leases import Claim


def fair_order(session: Session, *, limit: int = 100) -> list[int]:
    """Queued jobs' ids in dispatch order: FIFO per user, round-robin between users.

    Users with fewer jobs already on a GPU go first (ties: whoever has waited longest), so
    one user's burst of submissions cannot hold everyone else behind it. Ids and owners only
    are read: a claim asks for the order every time and locks the one job it takes.
    """
    queued = session.execute(
        sa.select(col(GenerationJob.id), col(GenerationJob.user_id))
        .where(col(GenerationJob.status) == JobStatus.QUEUED)
        .order_by(col(GenerationJob.created_at), col(GenerationJob.id))
        .limit(limit * 4)
    ).all()
    if not queued:
        return []
    per_user: dict[int, list[int]] = {}
    for job_id, user_id in queued:
        per_user.setdefault(user_id, []).append(job_id)
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
    ordered: list[int] = []
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
    return {job_id: place for place, job_id in enumerate(fair_order(session, limit=1000), start=1)}


QUEUE_CHANNEL = "aikings_queue"
"""The PostgreSQL NOTIFY channel a submit signals on, so the dispatcher wakes at once."""


def announce(session: Session) -> None:
    """Signal a waiting dispatcher that a job joined the queue; on PostgreSQL a NOTIFY that
    is delivered when this unit of work commits (never for one rolled back). On SQLite the
    dispatcher polls `dispatchable` instead."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_notify(QUEUE_CHANNEL, "")))


def dispatchable(session: Session, *, pool: str) -> bool:
    """Whether `claim_next` could hand out work now: a queued job and a ready instance of
    `pool`. One statement of two indexed EXISTS: cheap enough to ask every few milliseconds,
    and before every claim, without a lock."""
    return bool(session.execute(dispatchable_query(pool)).scalar())


def dispatchable_query(pool: str) -> sa.Select[tuple[bool]]:
    """`dispatchable`'s one statement (the waker also sends it over a connection of its own)."""
    queued = sa.exists().where(col(GenerationJob.status) == JobStatus.QUEUED)
    ready = sa.exists().where(
        col(GpuInstance.pool) == pool,
        col(GpuInstance.state) == InstanceState.READY,
        col(GpuInstance.comfy_url).is_not(None),
    )
    return sa.select(sa.and_(queued, ready))


def count_queued(session: Session) -> int:
    """How many jobs wait for an instance."""
    query = select(sa.func.count()).select_from(GenerationJob)
    return int(session.exec(query.where(GenerationJob.status == JobStatus.QUEUED)).one())


CLAIM_CANDIDATES = 8
"""Queued jobs, in fair order, one claim looks at: enough to pass over the few that other
claimers hold at this moment, or that wait for a model the free instance still downloads."""


def claim_next(
    session: Session,
    *,
    pool: str,
    now: datetime,
    worker_id: str | None = None,
    needs: Callable[[GenerationJob], Collection[str]] | None = None,
) -> tuple[int, Claim] | None:
    """Give the first claimable job in fair order a ready instance; None when no job or no
    instance.

    Several claimers (the leader's dispatcher, worker processes on other hosts) may run this
    at once on PostgreSQL: a job another claimer holds is skipped (`FOR UPDATE SKIP LOCKED`)
    and the next in fair order is tried, and the instance is won by a conditional UPDATE, so
    no job is claimed twice and no instance taken twice. `worker_id` names the worker
    process claiming (stamped on the job with a first heartbeat); None for the leader's own.
    With `needs` (a job -> the model files it loads), an instance still downloading one of
    them is not given that job; a later job in fair order may take it instead, so a job
    waiting for a model does not hold back those that can run.
    """
    ready = leases.ready_instances(session, pool=pool)
    if not ready:  # nothing to hand out: no job is read or locked
        return None
    order = fair_order(session, limit=CLAIM_CANDIDATES)
    if not order:
        return None
    # A job's files are worked out (its graph built) only while a free instance still
    # downloads some: otherwise every free instance fits every job.
    downloading = any(instance.models_pending for instance in ready)
    for job_id in order:
        wanted = _files_of(session, job_id, needs) if needs is not None and downloading else ()
        fits = [instance for instance in ready if leases.can_take(instance, wanted)]
        if not fits:
            continue  # every free instance still downloads a model this job loads
        # Lock order (core.locks): the job before the instance; a job cancelled or claimed
        # meanwhile is passed over.
        job = locks.lock_job(session, job_id, skip_locked=True)
        if job is None or job.status is not JobStatus.QUEUED:
            continue
        claim = leases.acquire(
            session,
            pool=pool,
            job_id=job_id,
            now=now,
            needs=wanted,
            candidates=fits,
        )
        if claim is None:  # another claimer took them meanwhile: what is still free?
            ready = leases.ready_instances(session, pool=pool)
            if not ready:
                return None
            continue
        job.status = JobStatus.LEASED
        job.instance_id = claim.instance_id
        job.worker_id = worker_id
        job.heartbeat_at = now if worker_id is not None else None
        job.updated_at = now
        session.add(job)
        return job_id, claim
    return None


def _files_of(
    session: Session, job_id: int, needs: Callable[[GenerationJob], Collection[str]]
) -> Collection[str]:
    """The model files job `job_id` loads (`needs` of its row); none if it is gone."""
    job = session.get(GenerationJob, job_id)
    return needs(job) if job is not None else ()


def heartbeat(session: Session, *, worker_id: str, now: datetime) -> int:
    """Renew the heartbeat of every job `worker_id` has claimed and not ended; how many."""
    renewed = session.execute(
        sa.update(GenerationJob)
        .where(
            col(GenerationJob.worker_id) == worker_id,
            col(GenerationJob.status).in_((JobStatus.LEASED, JobStatus.RUNNING)),
        )
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(renewed.rowcount)  # type: ignore[attr-defined]

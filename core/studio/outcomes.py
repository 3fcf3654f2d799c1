"""How a job ends: succeed and charge, fail and refund, requeue, cancel or stop, recover after a
crash.

Every path that closes a job's credit hold is here, so the refund path has one home. A hold is
closed exactly once: charged on success, refunded on failure or cancel (the ledger's shared
idempotency key makes them exclusive). Every close takes its rows in the lock order of
`core.locks`: the user's balance, the job, then the lease and its instance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import partial

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core import locks
from core.accounts import ledger
from core.clock import Clock
from core.db import read_scope, run_transaction, session_scope
from core.errors import NotFound
from core.models import GenerationJob, JobStatus, Lease
from core.pool import leases
from core.studio.pricing import Pricing, charge_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
CANCELLED_QUEUED = "Cancelled by you. Your credits were refunded."
TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
RESTART_REASON = "the scheduler restarted"
WORKER_LOST_REASON = "the worker running it stopped answering"


def requeue_note(job: GenerationJob, reason: str) -> str:
    """What the Studio says about a started job sent back to the queue: how far it had got,
    why, which attempt comes next, and that the credits held are not taken twice."""
    reached = f" at step {job.step} of {job.total_steps}" if job.step and job.total_steps else ""
    note = (
        f"Back in the queue{reached}: {reason}. It starts again from the beginning "
        f"(attempt {job.attempts + 1} of {MAX_ATTEMPTS}); you are charged once."
    )
    return note[:500]


class JobOutcomes:
    """How jobs end when their instance goes away; the pool manager calls these."""

    def requeue_or_fail(self, session: Session, *, job_id: int, reason: str, now: datetime) -> None:
        """Back to the queue (hold kept) while attempts remain, else fail and refund. A job its
        user asked to stop is not run again: it ends cancelled and refunded."""
        job = session.get(GenerationJob, job_id)
        if job is None or job.status in TERMINAL:
            return
        if job.cancel_requested_at is not None:
            _end_cancelled(
                session, job, charged=0, cost_usd=None, message=CANCELLED_QUEUED, now=now
            )
            return
        if job.attempts >= MAX_ATTEMPTS:
            self.fail(session, job_id=job_id, reason=reason, now=now)
            return
        job.requeue_note = requeue_note(job, reason)
        job.status = JobStatus.QUEUED
        job.instance_id = None
        job.worker_id = job.heartbeat_at = None
        job.step = 0
        job.error = None
        job.preview = job.preview_mime = None
        job.updated_at = now
        session.add(job)
        log.info("job.requeued", extra={"job_id": job_id, "reason": reason})

    def fail(self, session: Session, *, job_id: int, reason: str, now: datetime) -> None:
        """Mark the job failed with a reason the user can read and refund its hold."""
        job = session.get(GenerationJob, job_id)
        if job is None or job.status in TERMINAL:
            return
        job.status = JobStatus.FAILED
        job.error = reason[:2000]
        job.preview = job.preview_mime = None
        job.finished_at = now
        job.updated_at = now
        session.add(job)
        ledger.refund_job(session, job_id=job_id, now=now, reason=reason)
        log.info("job.failed", extra={"job_id": job_id, "reason": reason})


OUTCOMES = JobOutcomes()


def succeed(
    session: Session, job: GenerationJob, *, cost_usd: Decimal, pricing: Pricing, now: datetime
) -> int:
    """Mark `job` succeeded and charge its GPU time (never more than held); the credits charged.

    The caller locked the job (`core.locks.lock_job`: its owner first) and holds its lease
    in the same unit of work, so a job the pool took back meanwhile is never charged.
    """
    charged = charge_for(cost_usd, pricing=pricing, held=job.estimated_credits)
    ledger.settle_job(
        session, job_id=job.id or 0, charged_credits=charged, now=now, owner_locked=True
    )
    job.status = JobStatus.SUCCEEDED
    job.finished_at = now
    job.updated_at = now
    job.cost_usd = cost_usd
    job.charged_credits = charged
    job.step = job.total_steps or job.step
    job.preview = job.preview_mime = None
    session.add(job)
    return charged


def close_lease(
    session: Session,
    *,
    lease_id: int,
    job_id: int,
    outcome: str,
    retry: bool,
    reason: str,
    now: datetime,
) -> None:
    """A run that did not succeed: release its lease, then requeue (`retry`) or fail the job.

    Nothing happens if the lease was already released: the pool took the instance back and
    settled the job then, so this late outcome must not settle it twice.
    """
    locks.lock_job(session, job_id)
    if not leases.release(session, lease_id=lease_id, now=now, outcome=outcome):
        return
    if retry:
        OUTCOMES.requeue_or_fail(session, job_id=job_id, reason=reason, now=now)
    else:
        OUTCOMES.fail(session, job_id=job_id, reason=reason, now=now)


class Cancel(StrEnum):
    """What asking to cancel a job did."""

    CANCELLED = "cancelled"
    """It was still queued: it ended now and its credits were refunded."""
    STOPPING = "stopping"
    """It had started: its worker interrupts it, charges the GPU time used, refunds the rest."""
    TOO_LATE = "too_late"
    """It had already ended."""


def cancel(engine: Engine, *, job_id: int, user_id: int, clock: Clock) -> Cancel:
    """Cancel the user's job: a queued one ends now, refunded; a started one is asked to stop
    (`cancel_requested_at`), which its worker carries out. NotFound if not the user's."""
    now = clock.now()
    with session_scope(engine) as session:
        job = locks.lock_job(session, job_id)
        if job is None or job.user_id != user_id:
            raise NotFound("No such job.")
        if job.status is JobStatus.QUEUED:
            _end_cancelled(
                session, job, charged=0, cost_usd=None, message=CANCELLED_QUEUED, now=now
            )
            return Cancel.CANCELLED
        if job.status in TERMINAL:
            return Cancel.TOO_LATE
        if job.cancel_requested_at is None:
            job.cancel_requested_at = now
            job.updated_at = now
            session.add(job)
            log.info("job.stop_requested", extra={"job_id": job_id})
        return Cancel.STOPPING


def stopped(
    session: Session,
    job: GenerationJob,
    *,
    cost_usd: Decimal | None,
    pricing: Pricing,
    now: datetime,
) -> int:
    """End `job`, stopped by its user: charge the GPU time it used (`cost_usd`, never more than
    held; None if it never ran) and refund the rest; the credits charged. The caller holds the
    job's lease in the same unit of work, as for `succeed`."""
    if cost_usd is None:
        _end_cancelled(session, job, charged=0, cost_usd=None, message=CANCELLED_QUEUED, now=now)
        return 0
    charged = charge_for(cost_usd, pricing=pricing, held=job.estimated_credits)
    credits = f"{charged} credit{'' if charged == 1 else 's'}"
    message = f"Stopped by you: {credits} charged for the GPU time used, the rest refunded."
    _end_cancelled(session, job, charged=charged, cost_usd=cost_usd, message=message, now=now)
    return charged


def _end_cancelled(
    session: Session,
    job: GenerationJob,
    *,
    charged: int,
    cost_usd: Decimal | None,
    message: str,
    now: datetime,
) -> None:
    if charged:
        ledger.settle_job(session, job_id=job.id or 0, charged_credits=charged, now=now)
    else:
        ledger.refund_job(session, job_id=job.id or 0, now=now, reason="cancelled")
    job.status = JobStatus.CANCELLED
    job.error = message
    if cost_usd is not None:  # it ran: what its GPU time cost and what that charged
        job.charged_credits, job.cost_usd = charged, cost_usd
    job.preview = job.preview_mime = None
    job.finished_at = now
    job.updated_at = now
    session.add(job)
    log.info("job.cancelled", extra={"job_id": job.id, "credits": charged})


WORKER_STALE_S = 30
"""The default age past which a worker process's heartbeat says it died (`worker_stale_s`)."""


def recover_orphaned_jobs(
    engine: Engine,
    *,
    is_running: Callable[[int], bool],
    clock: Clock,
    worker_stale_s: float = WORKER_STALE_S,
) -> int:
    """Requeue the jobs nobody runs any more; how many.

    A job holding an open lease is orphaned when its runner is gone: for a job the leader's
    own dispatcher claimed (no `worker_id`), when no worker thread of ours runs it
    (`is_running(job_id)` is False: it died with a previous leader, or its close kept
    failing); for a job a worker process claimed, when that worker's heartbeat is older than
    `worker_stale_s` (the worker was killed, its host lost). Its lease is released (the
    instance goes back to the pool) and the job requeued, or failed and refunded once out of
    attempts. So is a job marked leased whose lease is gone. Each job is recovered in a unit
    of work of its own, retried (`run_transaction`), which releases the lease only if still
    open and re-reads the heartbeat under the job's lock: a job is recovered exactly once, and
    never while its worker still beats.
    """
    now = clock.now()
    stale_before = now - timedelta(seconds=worker_stale_s)
    with read_scope(engine) as session:
        open_leases = session.exec(
            select(Lease.id, Lease.job_id).where(col(Lease.released_at).is_(None))
        ).all()
        leased = session.exec(
            select(GenerationJob.id).where(GenerationJob.status == JobStatus.LEASED)
        ).all()
        ids = {job_id for _lease_id, job_id in open_leases} | {job_id or 0 for job_id in leased}
        claimed = {
            job_id or 0: (worker_id, heartbeat_at)
            for job_id, worker_id, heartbeat_at in session.exec(
                select(GenerationJob.id, GenerationJob.worker_id, GenerationJob.heartbeat_at).where(
                    col(GenerationJob.id).in_(ids)
                )
            ).all()
        }

    def orphaned(job_id: int) -> bool:
        worker_id, heartbeat_at = claimed.get(job_id, (None, None))
        if worker_id is None:
            return not is_running(job_id)
        return heartbeat_at is None or heartbeat_at < stale_before

    with_lease = {job_id for _lease_id, job_id in open_leases}
    orphans: list[tuple[int, int | None]] = [
        (job_id, lease_id or 0) for lease_id, job_id in open_leases if orphaned(job_id)
    ]
    orphans += [
        (job_id or 0, None)
        for job_id in leased
        if job_id not in with_lease and orphaned(job_id or 0)
    ]
    recovered = 0
    for job_id, lease_id in orphans:
        recover = partial(
            _recover, job_id=job_id, lease_id=lease_id, now=now, stale_before=stale_before
        )
        recovered += run_transaction(engine, recover, name="studio.recover_orphan")
    if recovered:
        log.warning("scheduler.recovered_jobs", extra={"count": recovered})
    return recovered


def _recover(
    session: Session,
    *,
    job_id: int,
    lease_id: int | None,
    now: datetime,
    stale_before: datetime,
) -> int:
    job = locks.lock_job(session, job_id)
    if job is not None and job.worker_id is not None and _beats(job, stale_before):
        return 0  # its worker renewed the heartbeat meanwhile: it still runs the job
    if lease_id is not None:
        if not leases.release(session, lease_id=lease_id, now=now, outcome="recovered"):
            return 0  # its worker closed it meanwhile
    elif job is None or job.status is not JobStatus.LEASED or _has_open_lease(session, job_id):
        return 0
    reason = RESTART_REASON if job is None or job.worker_id is None else WORKER_LOST_REASON
    OUTCOMES.requeue_or_fail(session, job_id=job_id, reason=reason, now=now)
    return 1


def _beats(job: GenerationJob, stale_before: datetime) -> bool:
    return job.heartbeat_at is not None and job.heartbeat_at >= stale_before


def _has_open_lease(session: Session, job_id: int) -> bool:
    query = select(Lease.id).where(Lease.job_id == job_id, col(Lease.released_at).is_(None))
    return session.exec(query).first() is not None

"""What the studio's live panel shows about one job, read from its row and the pool."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from core.models import GenerationJob, GpuInstance, InstanceState, JobStatus
from core.studio.pricing import Pricing
from core.studio.queue import queue_position

_WAITED_ON = (
    InstanceState.REQUESTED,
    InstanceState.BOOTING,
    InstanceState.READY,
    InstanceState.BUSY,
)


@dataclass(frozen=True)
class JobProgress:
    """A job's place in the queue, whether it waits for a GPU to boot, and its steps."""

    job: GenerationJob
    queue_position: int | None
    cold_start: bool
    """True while no GPU of the pool is up, so a queued job waits for one to boot."""
    boot_wait_s: float | None
    """Expected seconds until a starting GPU is ready (None when none has to start)."""
    fraction: float
    """Sampler steps done, 0.0 to 1.0 (0.0 before the first step is reported)."""


def job_progress(
    session: Session, job: GenerationJob, *, pool: str, pricing: Pricing, now: datetime
) -> JobProgress:
    """The progress of `job` at `now`: queue place and cold-start wait while queued."""
    fraction = min(job.step / job.total_steps, 1.0) if job.total_steps else 0.0
    if job.status is not JobStatus.QUEUED:
        return JobProgress(job, None, False, None, fraction)
    states = session.exec(
        select(GpuInstance.state, GpuInstance.created_at).where(
            GpuInstance.pool == pool,
            col(GpuInstance.state).in_(_WAITED_ON),
        )
    ).all()
    up = any(state in (InstanceState.READY, InstanceState.BUSY) for state, _ in states)
    if up:
        return JobProgress(job, queue_position(session, job.id or 0), False, None, fraction)
    starting = [created for _state, created in states]
    # The oldest starting instance should be ready first; none yet means the scheduler
    # rents one at its next tick, so a whole boot is still ahead.
    elapsed_s = (now - min(starting)).total_seconds() if starting else 0.0
    boot_wait_s = max(pricing.typical_boot_s - elapsed_s, 0.0)
    return JobProgress(job, queue_position(session, job.id or 0), True, boot_wait_s, fraction)

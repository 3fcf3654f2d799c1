"""What the studio shows about waiting: the outlook of a new request and of a queued job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from core.models import GenerationJob, JobStatus
from core.pool import costs, outlook
from core.studio.pricing import Pricing
from core.studio.queue import queue_position


@dataclass(frozen=True)
class JobProgress:
    """A job's place in the queue, what it waits for, and its steps."""

    job: GenerationJob
    queue_position: int | None
    outlook: outlook.Outlook | None
    """While queued: what it meets and when it should start (None once it left the queue)."""
    fraction: float
    """Sampler steps done, 0.0 to 1.0 (0.0 before the first step is reported)."""

    @property
    def cold_start(self) -> bool:
        """True while the job waits for a GPU to boot (one starting or still to be rented)."""
        return self.outlook is not None and self.outlook.meets in (
            outlook.Meets.COLD,
            outlook.Meets.BOOTING,
        )


def request_outlook(
    session: Session, *, pool: str, gpu_s: float, pricing: Pricing, now: datetime
) -> outlook.Outlook:
    """What a request submitted now meets: behind every queued job, each holding a GPU for
    about `gpu_s`."""
    pool_now = outlook.snapshot(
        session,
        pool=pool,
        now=now,
        job_s=gpu_s,
        tick_s=pricing.tick_s,
        default_boot_s=pricing.typical_boot_s,
    )
    return outlook.outlook(pool_now, job_s=gpu_s)


def job_progress(
    session: Session, job: GenerationJob, *, pool: str, pricing: Pricing, now: datetime
) -> JobProgress:
    """The progress of `job` at `now`: queue place and outlook while queued.

    The rental a queued job waits for happens at the first tick after it was submitted, so
    the countdown runs from its submission and moves on every refresh."""
    fraction = min(job.step / job.total_steps, 1.0) if job.total_steps else 0.0
    if job.status is not JobStatus.QUEUED:
        return JobProgress(job, None, None, fraction)
    place = queue_position(session, job.id or 0)
    gpu_s = job.batch_size * costs.median_duration_s(
        session,
        preset=job.preset,
        model=job.model,
        kind=job.kind.value,
        default_s=pricing.typical_job_s,
    )
    pool_now = outlook.snapshot(
        session,
        pool=pool,
        now=now,
        job_s=gpu_s,
        tick_s=pricing.tick_s,
        default_boot_s=pricing.typical_boot_s,
        queued_ahead=max((place or 1) - 1, 0),
    )
    rent_in_s = pricing.tick_s - (now - job.created_at).total_seconds()
    return JobProgress(
        job, place, outlook.outlook(pool_now, job_s=gpu_s, rent_in_s=rent_in_s), fraction
    )

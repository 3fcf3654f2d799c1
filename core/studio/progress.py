"""What the studio shows about waiting: the outlook of a new request and of a queued job."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from core.comfy.presets import Presets
from core.models import GenerationJob, JobStatus
from core.pool import costs, outlook
from core.studio import needs
from core.studio.pricing import Pricing
from core.studio.queue import queue_position

_process_presets = functools.cache(Presets.load)
"""The presets file as this process read it first (a catalogue change needs a restart)."""


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
    return outlook.outlook(_pool_now(session, pool, gpu_s, pricing, now), job_s=gpu_s)


def _pool_now(
    session: Session,
    pool: str,
    gpu_s: float,
    pricing: Pricing,
    now: datetime,
    queued_ahead: int | None = None,
) -> outlook.PoolSnapshot:
    """The pool as a job of `gpu_s` meets it, with the pricing's tick and boot time."""
    return outlook.snapshot(
        session,
        pool=pool,
        now=now,
        job_s=gpu_s,
        tick_s=pricing.tick_s,
        default_boot_s=pricing.typical_boot_s,
        queued_ahead=queued_ahead,
    )


def job_progress(
    session: Session,
    job: GenerationJob,
    *,
    pool: str,
    pricing: Pricing,
    now: datetime,
    presets: Presets | None = None,
) -> JobProgress:
    """The progress of `job` at `now`: queue place and outlook while queued.

    The rental a queued job waits for happens at the first tick after it was submitted, so
    the countdown runs from its submission and moves on every refresh. A job whose model
    files every up GPU is still fetching is told which and about how long (`presets`: the
    catalogue the job was checked against, by default the shipped file as this process read
    it)."""
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
    pool_now = _pool_now(session, pool, gpu_s, pricing, now, queued_ahead=max((place or 1) - 1, 0))
    presets = presets or _process_presets()
    downloads = presets.downloads()
    fetching = outlook.waiting_for_downloads(
        session,
        pool=pool,
        needs=needs.job_files(job, presets),
        sizes_bytes={path: download.size_bytes for path, download in downloads.items()},
    )
    if fetching is not None:
        return JobProgress(job, place, fetching, fraction)
    rent_in_s = pricing.tick_s - (now - job.created_at).total_seconds()
    return JobProgress(
        job, place, outlook.outlook(pool_now, job_s=gpu_s, rent_in_s=rent_in_s), fraction
    )

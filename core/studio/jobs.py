"""Generation jobs end to end: estimate, submit, fair queue, run on a leased GPU, settle.

A job's state lives in its row: the page polls it, the scheduler runs it, and a restart of
either finds it where it was. Credits are held at submit and closed exactly once: charged on
success, refunded on failure (the ledger's shared idempotency key makes them exclusive).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core import safety
from core.accounts import ledger
from core.clock import Clock
from core.comfy.client import ComfyClient
from core.comfy.events import OutputRef, Preview, Progress
from core.comfy.presets import Presets
from core.comfy.workflows import GenerationRequest, Graph, build_graph
from core.config import Settings
from core.db import read_scope, session_scope
from core.errors import ComfyUnavailable, CoreError, NotFound, ValidationFailed
from core.gallery import screening, store
from core.models import (
    GenerationJob,
    GpuInstance,
    InstanceState,
    JobStatus,
    MediaKind,
    MuseVariation,
    PoolConfig,
    ReferenceImage,
)
from core.muses import service as muses
from core.pool import costs, leases
from core.pool.leases import Claim
from core.refusals import audited_refusals
from core.safety import OutputScreener, shared_screener
from core.studio.metadata import generation_metadata

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
MAX_BATCH = 8
HOLD_MARGIN = Decimal("1.5")
PROGRESS_WRITE_INTERVAL_S = 0.5
TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class StudioRequest:
    """What a user asks the studio for."""

    prompt: str
    negative_prompt: str = ""
    model: str = ""
    preset: str = "medium"
    kind: MediaKind = MediaKind.IMAGE
    seed: int | None = None
    batch_size: int = 1
    muse_id: int | None = None
    variation_id: int | None = None
    nsfw: bool = False
    reference_images: tuple[str, ...] = ()
    reference_weight: float = 0.8


@dataclass(frozen=True)
class Estimate:
    """What a request should cost and how long it should take."""

    credits: int
    gpu_seconds: float
    cost_usd: Decimal
    cold_start: bool
    wait_seconds: float


@dataclass(frozen=True)
class Pricing:
    """How GPU time turns into credits."""

    credit_price_usd: Decimal
    reference_price_per_hour_usd: Decimal
    typical_boot_s: float = 240.0


def pricing_from(settings: Settings) -> Pricing:
    """The deployment's pricing, from its settings."""
    return Pricing(
        credit_price_usd=settings.credit_price_usd,
        reference_price_per_hour_usd=settings.reference_price_per_hour_usd,
    )


def estimate(
    session: Session, request: StudioRequest, *, presets: Presets, pricing: Pricing, pool: str
) -> Estimate:
    """Credits and time for `request`: measured medians per preset/model, else preset defaults."""
    preset = presets.preset(request.preset, request.kind)
    per_item_s = costs.median_duration_s(
        session,
        preset=request.preset,
        model=request.model or presets.default_model(request.kind),
        kind=request.kind.value,
        default_s=preset.expected_seconds,
    )
    gpu_s = per_item_s * request.batch_size
    cost = costs.cost_for(pricing.reference_price_per_hour_usd, gpu_s)
    ready = session.exec(
        select(sa.func.count())
        .select_from(GpuInstance)
        .where(GpuInstance.pool == pool, col(GpuInstance.state) == InstanceState.READY)
    ).one()
    cold = int(ready) == 0
    return Estimate(
        credits=costs.credits_for_cost(cost, pricing.credit_price_usd),
        gpu_seconds=gpu_s,
        cost_usd=cost,
        cold_start=cold,
        wait_seconds=gpu_s + (pricing.typical_boot_s if cold else 0.0),
    )


def hold_for(quote: Estimate) -> int:
    """Credits held at submit for an estimate: a margin above it (at least 1), so a slow run
    is still covered; what the run does not use is refunded at settlement."""
    return int((Decimal(quote.credits) * HOLD_MARGIN).to_integral_value()) or 1


def request_of(job: GenerationJob) -> StudioRequest:
    """The request that made `job`, seed included: submitting it again re-runs the job."""
    return StudioRequest(
        prompt=job.prompt,
        negative_prompt=job.negative_prompt,
        model=job.model,
        preset=job.preset,
        kind=job.kind,
        seed=job.seed,
        batch_size=job.batch_size,
        muse_id=job.muse_id,
        variation_id=job.variation_id,
        nsfw=bool(job.request.get("nsfw")),
        reference_images=tuple(job.request.get("reference_images", ())),
        reference_weight=float(job.request.get("reference_weight", 0.8)),
    )


def validate(request: StudioRequest, presets: Presets) -> None:
    """Refuse a malformed request with a message fit to show (before any policy or money)."""
    if not request.prompt.strip():
        raise ValidationFailed("Write a prompt first.")
    if not 1 <= request.batch_size <= MAX_BATCH:
        raise ValidationFailed(f"Batch size must be between 1 and {MAX_BATCH}.")
    presets.preset(request.preset, request.kind)  # raises ValidationFailed for an unknown one
    if request.model and request.model not in presets.models(request.kind):
        raise ValidationFailed(f"Unknown model {request.model!r}.")
    if request.reference_images and request.kind is MediaKind.VIDEO:
        raise ValidationFailed("Reference images work with image generation only.")


def check_sources(session: Session, *, user_id: int, request: StudioRequest, year: int) -> None:
    """Refuse a muse, variation or reference image the user does not own, or may not use.

    The muse and the variation are screened again (the policy may have tightened since they
    were saved); reference images must be the user's own consented uploads and never go
    with explicit mode.
    """
    if request.muse_id is not None:
        muse = muses.get_muse(session, owner_id=user_id, muse_id=request.muse_id)
        muses.screen_profile(muses.profile_of(muse), year=year)
        if request.variation_id is not None:
            variation = session.get(MuseVariation, request.variation_id)
            if variation is None or variation.muse_id != muse.id:
                raise NotFound("No such variation.")
            muses.screen_overrides(muse, variation.overrides, year=year)
    elif request.variation_id is not None:
        raise ValidationFailed("A variation needs its muse.")
    if request.reference_images:
        safety.screen_reference_use(consent_given=True, explicit=request.nsfw)
        owned = session.exec(
            select(ReferenceImage.sha256).where(
                ReferenceImage.owner_id == user_id,
                col(ReferenceImage.sha256).in_(request.reference_images),
            )
        ).all()
        if set(request.reference_images) - set(owned):
            raise NotFound("No such reference image.")


def submit(
    engine: Engine,
    *,
    user_id: int,
    request: StudioRequest,
    clock: Clock,
    presets: Presets,
    pricing: Pricing,
    pool: str,
    ip: str | None = None,
) -> GenerationJob:
    """Queue a job and hold its credits, or refuse with a clear message.

    Content policy runs first (the prompts, and the muse, variation and references named),
    before any credit hold or GPU work; a refusal is audited in its own unit of work so the
    record survives the refusal.
    """
    validate(request, presets)
    actor = f"user:{user_id}"
    year = clock.now().year
    with audited_refusals(engine, actor=actor, target="studio.submit", clock=clock, ip=ip):
        with read_scope(engine) as session:
            check_sources(session, user_id=user_id, request=request, year=year)
        safety.screen_prompt(request.prompt, nsfw=request.nsfw, year=year)
        safety.screen_prompt(
            request.negative_prompt, nsfw=False, field="negative prompt", year=year, negative=True
        )
    now = clock.now()
    with session_scope(engine) as session:
        quote = estimate(session, request, presets=presets, pricing=pricing, pool=pool)
        hold = hold_for(quote)
        job = GenerationJob(
            user_id=user_id,
            muse_id=request.muse_id,
            variation_id=request.variation_id,
            kind=request.kind,
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            model=request.model or presets.default_model(request.kind),
            preset=request.preset,
            seed=request.seed if request.seed is not None else secrets.randbelow(2**48),
            batch_size=request.batch_size,
            request={
                "reference_images": list(request.reference_images),
                "reference_weight": request.reference_weight,
                "nsfw": request.nsfw,
            },
            estimated_credits=hold,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        # The hold is taken in the same unit of work as the job row: no job without its
        # hold, no hold without its job.
        ledger.hold_for_job(session, user_id=user_id, job_id=job.id or 0, credits=hold, now=now)
        leases.note_demand(session, pool=pool, now=now)
    log.info("job.submitted", extra={"job_id": job.id, "user_id": user_id, "credits": hold})
    return job


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
    for place, job in enumerate(fair_queue(session, limit=1000), start=1):
        if job.id == job_id:
            return place
    return None


def count_queued(session: Session) -> int:
    """How many jobs wait for an instance."""
    query = select(sa.func.count()).select_from(GenerationJob)
    return int(session.exec(query.where(GenerationJob.status == JobStatus.QUEUED)).one())


def claim_next(session: Session, *, pool: str, now: datetime) -> tuple[int, Claim] | None:
    """Give the first job in fair order a ready instance; None when no job or no instance."""
    config = session.get(PoolConfig, pool)
    lease_max_s = config.lease_max_s if config else 1800
    for job in fair_queue(session, limit=1):
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


class JobOutcomes:
    """How jobs end when their instance goes away; the pool manager calls these."""

    def requeue_or_fail(self, session: Session, *, job_id: int, reason: str, now: datetime) -> None:
        """Back to the queue (hold kept) while attempts remain, else fail and refund."""
        job = session.get(GenerationJob, job_id)
        if job is None or job.status in TERMINAL:
            return
        if job.attempts >= MAX_ATTEMPTS:
            self.fail(session, job_id=job_id, reason=reason, now=now)
            return
        job.status = JobStatus.QUEUED
        job.instance_id = None
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


@dataclass
class RunContext:
    """What running a job needs besides the job itself."""

    engine: Engine
    clock: Clock
    presets: Presets
    pricing: Pricing
    media_root: Path
    comfy: Callable[[str], ComfyClient] = field(default=lambda url: ComfyClient(url))
    screener: OutputScreener = field(default_factory=shared_screener)


def run_job(ctx: RunContext, *, job_id: int, claim: Claim) -> None:
    """Run a leased job on its instance and settle it; never raises.

    The result is written only if this worker still holds the lease: if the pool took the
    instance back meanwhile (lost, expired, safe mode), the job was already requeued or
    refunded and this late result is dropped.
    """
    try:
        _run(ctx, job_id, claim)
    except ComfyUnavailable as exc:
        _close(
            ctx,
            claim,
            job_id,
            outcome="instance_error",
            retry=True,
            reason=f"The GPU stopped answering ({exc}); your job was put back in the queue.",
        )
        _request_replacement(ctx, claim.instance_id)
    except CoreError as exc:
        _close(
            ctx,
            claim,
            job_id,
            outcome="failed",
            retry=False,
            reason=f"Generation failed: {exc}. Your credits were refunded.",
        )
    except Exception:  # noqa: BLE001 - a worker must always settle its job
        log.exception("job.crashed", extra={"job_id": job_id})
        _close(
            ctx,
            claim,
            job_id,
            outcome="failed",
            retry=False,
            reason="Generation failed because of an internal error. Your credits were refunded.",
        )


def _run(ctx: RunContext, job_id: int, claim: Claim) -> None:
    started = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        job = session.get(GenerationJob, job_id)
        if job is None or job.status is not JobStatus.LEASED:
            return
        job.status = JobStatus.RUNNING
        job.started_at = started
        job.attempts += 1
        job.updated_at = started
        session.add(job)
    client = ctx.comfy(claim.comfy_url)
    try:
        uploaded = tuple(
            client.upload_image(store.read(ctx.media_root, sha), f"{sha}.png")
            for sha in job.request.get("reference_images", [])
        )
        request = GenerationRequest(
            positive=job.prompt,
            negative=job.negative_prompt,
            model=job.model,
            preset=job.preset,
            seed=job.seed,
            batch_size=job.batch_size,
            kind=job.kind.value,
            reference_images=uploaded,
            reference_weight=float(job.request.get("reference_weight", 0.8)),
        )
        graph = build_graph(request, ctx.presets)
        progress = _ProgressWriter(ctx, job_id)
        result = client.run(graph, on_event=progress)
        outputs = [(ref, client.view(ref)) for ref in result.outputs]
    finally:
        client.close()
    _finish(ctx, claim, job_id, outputs, started, graph)


class _ProgressWriter:
    """Writes sampler progress, with the latest preview frame, to the job row at most every
    PROGRESS_WRITE_INTERVAL_S (and always on the last step)."""

    def __init__(self, ctx: RunContext, job_id: int) -> None:
        self.ctx, self.job_id, self.last_write = ctx, job_id, 0.0
        self.preview: Preview | None = None

    def __call__(self, event: object) -> None:
        if isinstance(event, Preview):
            self.preview = event
            return
        if not isinstance(event, Progress):
            return
        moment = time.monotonic()
        if moment - self.last_write < PROGRESS_WRITE_INTERVAL_S and event.value < event.max:
            return
        self.last_write = moment
        values: dict[str, object] = {
            "step": event.value,
            "total_steps": event.max,
            "updated_at": self.ctx.clock.now(),
        }
        if self.preview is not None:
            values |= {"preview": self.preview.data, "preview_mime": self.preview.mime}
        with session_scope(self.ctx.engine) as session:
            session.execute(
                sa.update(GenerationJob)
                .where(
                    col(GenerationJob.id) == self.job_id,
                    col(GenerationJob.status) == JobStatus.RUNNING,
                )
                .values(**values)
            )


def _finish(
    ctx: RunContext,
    claim: Claim,
    job_id: int,
    outputs: Sequence[tuple[OutputRef, bytes]],
    started: datetime,
    graph: Graph,
) -> None:
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        if not leases.release(session, lease_id=claim.lease_id, now=now, outcome="succeeded"):
            log.warning("job.result_dropped", extra={"job_id": job_id})
            return
        job = session.get(GenerationJob, job_id)
        instance = session.get(GpuInstance, claim.instance_id)
        if job is None or instance is None or job.status in TERMINAL:
            return
        for index, (ref, data) in enumerate(outputs):
            asset = store.save_output(
                session,
                media_root=ctx.media_root,
                owner_id=job.user_id,
                job_id=job_id,
                muse_id=job.muse_id,
                data=data,
                kind=job.kind,
                mime=ref.mime,
                title=f"{job.prompt[:60]} #{index + 1}",
                now=now,
                metadata=generation_metadata(job, ctx.presets, graph, index),
            )
            # Screened before this unit of work commits: no output is ever seen unscreened.
            screening.screen_output(
                session,
                asset=asset,
                data=data,
                explicit_request=bool(job.request.get("nsfw")),
                screener=ctx.screener,
                now=now,
            )
        seconds = (now - started).total_seconds()
        cost = costs.cost_for(instance.price_per_hour_usd, seconds)
        # Charge what the GPU time cost, never more than was held.
        charged = min(
            costs.credits_for_cost(cost, ctx.pricing.credit_price_usd), job.estimated_credits
        )
        ledger.settle_job(session, job_id=job_id, charged_credits=charged, now=now)
        job.status = JobStatus.SUCCEEDED
        job.finished_at = now
        job.updated_at = now
        job.cost_usd = cost
        job.charged_credits = charged
        job.step = job.total_steps or job.step
        job.preview = job.preview_mime = None
        session.add(job)
    log.info("job.succeeded", extra={"job_id": job_id, "seconds": seconds, "credits": charged})


def _close(
    ctx: RunContext, claim: Claim, job_id: int, *, outcome: str, retry: bool, reason: str
) -> None:
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        if not leases.release(session, lease_id=claim.lease_id, now=now, outcome=outcome):
            return
        if retry:
            OUTCOMES.requeue_or_fail(session, job_id=job_id, reason=reason, now=now)
        else:
            OUTCOMES.fail(session, job_id=job_id, reason=reason, now=now)


def _request_replacement(ctx: RunContext, instance_id: int) -> None:
    """An instance whose ComfyUI stopped answering is destroyed at the next tick."""
    with session_scope(ctx.engine) as session:
        instance = session.get(GpuInstance, instance_id)
        if instance is not None and instance.terminate_requested_at is None:
            instance.terminate_requested_at = ctx.clock.now()
            session.add(instance)


def cancel(engine: Engine, *, job_id: int, user_id: int, clock: Clock) -> bool:
    """Cancel the user's job while it is still queued and refund it; False if too late."""
    now = clock.now()
    with session_scope(engine) as session:
        job = session.get(GenerationJob, job_id)
        if job is None or job.user_id != user_id:
            raise NotFound("No such job.")
        if job.status is not JobStatus.QUEUED:
            return False
        job.status = JobStatus.CANCELLED
        job.error = "Cancelled by you. Your credits were refunded."
        job.finished_at = now
        job.updated_at = now
        session.add(job)
        ledger.refund_job(session, job_id=job_id, now=now, reason="cancelled")
    return True


def job_for_user(engine: Engine, *, job_id: int, user_id: int) -> GenerationJob | None:
    """The job if it belongs to `user_id` (the page's polling read)."""
    with read_scope(engine) as session:
        job = session.get(GenerationJob, job_id)
        return job if job is not None and job.user_id == user_id else None

"""Running a claimed job on its leased GPU: upload references, follow progress, store the result.

The runner never decides order (that is `core.studio.queue`) and never closes a hold itself:
it hands every ending to `core.studio.outcomes`, and only while it still holds the lease.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core import locks
from core.clock import Clock
from core.comfy.client import ComfyClient
from core.comfy.events import OutputRef, Preview, Progress
from core.comfy.presets import Presets
from core.comfy.tools import Tools
from core.comfy.workflows import GenerationRequest, Graph, build_graph
from core.db import read_scope, run_transaction, session_scope
from core.errors import ComfyUnavailable, CoreError, ExecutionFailed
from core.gallery import screening, store
from core.models import GenerationJob, GpuInstance, JobStatus
from core.pool import costs, leases
from core.pool.leases import Claim
from core.safety import OutputScreener, shared_screener
from core.studio import outcomes
from core.studio.compose import DEFAULT_REFERENCE_WEIGHT, mask_of
from core.studio.metadata import generation_metadata
from core.studio.pricing import Pricing

log = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL_S = 0.5
STOP_CHECK_INTERVAL_S = 0.5
"""How often a running job's worker looks whether its user asked to stop it."""


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


Ending = Callable[[], None]
"""Writing how a job ended (its result, or its failure); safe to call again until it succeeds."""


def run_job(ctx: RunContext, *, job_id: int, claim: Claim) -> Ending | None:
    """Run a leased job on its instance and write how it ended; never raises.

    The result is written only if this worker still holds the lease: if the pool took the
    instance back meanwhile (lost, expired, safe mode), the job was already requeued or
    refunded and this late result is dropped. Returns None once the ending is written; if
    writing it kept failing (the database unreachable past `run_transaction`'s retries), the
    failure is logged (`job.close_failed`) and the ending is returned for the caller to try
    again with `retry_ending` while it keeps the job; the lease stays open meanwhile.
    """
    ending: Ending
    try:
        ending = _run(ctx, job_id, claim)
    except ComfyUnavailable as exc:
        ending = partial(
            _close,
            ctx,
            claim,
            job_id,
            outcome="instance_error",
            retry=True,
            reason=f"The GPU stopped answering ({exc}); your job was put back in the queue.",
            replace_instance=True,
        )
    except CoreError as exc:
        ending = partial(
            _close,
            ctx,
            claim,
            job_id,
            outcome="failed",
            retry=False,
            reason=f"Generation failed: {exc}. Your credits were refunded.",
        )
    except Exception:  # noqa: BLE001 - a worker must always settle its job
        log.exception("job.crashed", extra={"job_id": job_id})
        ending = partial(
            _close,
            ctx,
            claim,
            job_id,
            outcome="failed",
            retry=False,
            reason="Generation failed because of an internal error. Your credits were refunded.",
        )
    return retry_ending(ending, job_id=job_id)


def retry_ending(ending: Ending, *, job_id: int) -> Ending | None:
    """Write `ending`; None once written, else (logged as `job.close_failed`) the ending again."""
    try:
        ending()
    except Exception:  # noqa: BLE001 - never lost silently: logged, then kept to try again
        log.exception("job.close_failed", extra={"job_id": job_id})
        return ending
    return None


def _run(ctx: RunContext, job_id: int, claim: Claim) -> Ending:
    started = ctx.clock.now()
    job = run_transaction(
        ctx.engine, partial(_start, job_id=job_id, started=started), name="studio.start"
    )
    if job is None:
        return lambda: None  # requeued or settled meanwhile: nothing of ours to write
    if job.cancel_requested_at is not None:  # stopped before it began: nothing ran
        return partial(_stop, ctx, claim, job_id, None)
    client = ctx.comfy(claim.comfy_url)
    try:
        uploaded = tuple(
            client.upload_image(store.read(ctx.media_root, sha), f"{sha}.png")
            for sha in job.request.get("reference_images", [])
        )
        request = GenerationRequest(
            tools=_upload_sources(ctx, client, job),
            positive=job.prompt,
            negative=job.negative_prompt,
            model=job.model,
            preset=job.preset,
            seed=job.seed,
            batch_size=job.batch_size,
            kind=job.kind.value,
            reference_images=uploaded,
            reference_weight=float(job.request.get("reference_weight", DEFAULT_REFERENCE_WEIGHT)),
        )
        graph = build_graph(request, ctx.presets)
        progress = _ProgressWriter(ctx, job_id, client)
        try:
            result = client.run(graph, on_event=progress, on_wait=progress.check_stop)
        except ExecutionFailed:
            if progress.stop_requested():
                return partial(_stop, ctx, claim, job_id, started)
            raise
        outputs = [(ref, client.view(ref)) for ref in result.outputs]
    finally:
        client.close()
    return partial(_finish, ctx, claim, job_id, outputs, started, graph)


def _start(session: Session, *, job_id: int, started: datetime) -> GenerationJob | None:
    job = session.get(GenerationJob, job_id)
    if job is None or job.status is not JobStatus.LEASED:
        return None
    job.status = JobStatus.RUNNING
    job.started_at = started
    job.attempts += 1
    job.updated_at = started
    session.add(job)
    return job


def _upload_sources(ctx: RunContext, client: ComfyClient, job: GenerationJob) -> Tools:
    """The job's tools naming its source picture and mask as uploaded to this instance."""
    tools = Tools.from_json(job.request.get("tools"))
    source = tools.source and client.upload_image(
        store.read(ctx.media_root, tools.source), f"{tools.source}.png"
    )
    mask_bytes = mask_of(job)
    mask = None
    if mask_bytes is not None:
        mask = client.upload_image(mask_bytes, f"mask-{hashlib.sha256(mask_bytes).hexdigest()}.png")
    return tools.with_images(source or None, mask)


class _ProgressWriter:
    """Follows a run's events: writes sampler progress, with the latest preview frame, to the
    job row at most every PROGRESS_WRITE_INTERVAL_S (and always on the last step), and
    interrupts the prompt once its user asked to stop it (looked up every
    STOP_CHECK_INTERVAL_S)."""

    def __init__(self, ctx: RunContext, job_id: int, client: ComfyClient) -> None:
        self.ctx, self.job_id, self.client = ctx, job_id, client
        self.last_write = self.last_stop_check = 0.0
        self.preview: Preview | None = None
        self.prompt_id: str | None = None
        self.interrupted = False

    def check_stop(self, prompt_id: str | None = None) -> None:
        """Interrupt the run (once) if its user asked to stop it; looks at most every
        STOP_CHECK_INTERVAL_S."""
        self.prompt_id = prompt_id or self.prompt_id
        moment = time.monotonic()
        if self.interrupted or moment - self.last_stop_check < STOP_CHECK_INTERVAL_S:
            return
        self.last_stop_check = moment
        if self.stop_requested():
            self.interrupted = True
            self.client.interrupt(self.prompt_id)
            log.info("job.interrupted", extra={"job_id": self.job_id})

    def __call__(self, event: object) -> None:
        self.check_stop(getattr(event, "prompt_id", None))
        moment = time.monotonic()
        if isinstance(event, Preview):
            self.preview = event
            return
        if not isinstance(event, Progress):
            return
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

    def stop_requested(self) -> bool:
        """Whether the job's user asked to stop it."""
        with read_scope(self.ctx.engine) as session:
            query = sa.select(col(GenerationJob.cancel_requested_at)).where(
                col(GenerationJob.id) == self.job_id
            )
            return session.execute(query).scalar() is not None


def _finish(
    ctx: RunContext,
    claim: Claim,
    job_id: int,
    outputs: Sequence[tuple[OutputRef, bytes]],
    started: datetime,
    graph: Graph,
) -> None:
    now = ctx.clock.now()

    def settle(session: Session) -> int | None:
        # Lock order (core.locks): the user's balance and the job, then the lease.
        job = locks.lock_job(session, job_id)
        if not leases.release(session, lease_id=claim.lease_id, now=now, outcome="succeeded"):
            return None
        instance = session.get(GpuInstance, claim.instance_id)
        if job is None or instance is None or job.status in outcomes.TERMINAL:
            return None
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
                category=job.request.get("category"),
                tags=job.request.get("tags", ()),
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
        return outcomes.succeed(session, job, cost_usd=cost, pricing=ctx.pricing, now=now)

    charged = run_transaction(ctx.engine, settle, name="studio.finish")
    if charged is None:
        log.warning("job.result_dropped", extra={"job_id": job_id})
        return
    seconds = (now - started).total_seconds()
    log.info("job.succeeded", extra={"job_id": job_id, "seconds": seconds, "credits": charged})


def _stop(ctx: RunContext, claim: Claim, job_id: int, started: datetime | None) -> None:
    """End a job its user stopped: release the lease (the instance goes back to the pool, as
    after any job), charge the GPU time used since `started` (None: it never ran), refund the
    rest. Nothing of the interrupted run is stored."""
    now = ctx.clock.now()

    def settle(session: Session) -> int | None:
        job = locks.lock_job(session, job_id)
        if not leases.release(session, lease_id=claim.lease_id, now=now, outcome="cancelled"):
            return None
        instance = session.get(GpuInstance, claim.instance_id)
        if job is None or instance is None or job.status in outcomes.TERMINAL:
            return None
        cost = (
            None
            if started is None
            else costs.cost_for(instance.price_per_hour_usd, (now - started).total_seconds())
        )
        return outcomes.stopped(session, job, cost_usd=cost, pricing=ctx.pricing, now=now)

    charged = run_transaction(ctx.engine, settle, name="studio.stop")
    log.info("job.stopped", extra={"job_id": job_id, "credits": charged})


def _close(
    ctx: RunContext,
    claim: Claim,
    job_id: int,
    *,
    outcome: str,
    retry: bool,
    reason: str,
    replace_instance: bool = False,
) -> None:
    now = ctx.clock.now()
    run_transaction(
        ctx.engine,
        lambda session: outcomes.close_lease(
            session,
            lease_id=claim.lease_id,
            job_id=job_id,
            outcome=outcome,
            retry=retry,
            reason=reason,
            now=now,
        ),
        name="studio.close",
    )
    if replace_instance:
        _request_replacement(ctx, claim.instance_id)


def _request_replacement(ctx: RunContext, instance_id: int) -> None:
    """An instance whose ComfyUI stopped answering is destroyed at the next tick."""
    now = ctx.clock.now()

    def mark(session: Session) -> None:
        instance = session.get(GpuInstance, instance_id)
        if instance is not None and instance.terminate_requested_at is None:
            instance.terminate_requested_at = now
            session.add(instance)

    run_transaction(ctx.engine, mark, name="studio.replace_instance")

"""Running a claimed job on its leased GPU: upload references, follow progress, store the result.

The runner never decides order (that is `core.studio.queue`) and never closes a hold itself:
it hands every ending to `core.studio.outcomes`, and only while it still holds the lease.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core import locks
from core.clock import Clock
from core.comfy.client import ComfyClient
from core.comfy.clients import ComfyClients
from core.comfy.events import OutputRef, Preview, Progress
from core.comfy.presets import Presets
from core.comfy.tools import Tools
from core.comfy.workflows import Graph, build_graph
from core.db import read_scope, run_transaction, session_scope
from core.errors import ComfyUnavailable, CoreError, ExecutionFailed, GraphInvalid
from core.gallery import screening, store, verdicts
from core.models import GenerationJob, GpuInstance, JobStatus, MediaKind
from core.pool import costs, leases
from core.pool.leases import Claim
from core.safety import OutputScreener, ScreeningResult, shared_screener
from core.studio import needs, outcomes
from core.studio.compose import mask_of
from core.studio.metadata import generation_metadata
from core.studio.needs import request_of
from core.studio.pricing import Pricing

log = logging.getLogger(__name__)

PROGRESS_WRITE_INTERVAL_S = 0.5
SCREENING_THREADS = os.cpu_count() or 2
"""At most one screener run per core at once: more would only share the cores."""
STOP_CHECK_INTERVAL_S = 0.5
"""How often a running job's worker looks whether its user asked to stop it."""


@dataclass
class RunContext:
    """What running a job needs besides the job itself."""

    engine: Engine
    clock: Clock
    presets: Presets
    pricing: Pricing
    media: store.Media
    comfy: ComfyClients = field(default_factory=ComfyClients)
    """URL and credentials -> a shared, long-lived client for that ComfyUI (the runner never
    closes it)."""
    credentials: Callable[[str | None], Mapping[str, str]] = lambda _nonce: {}
    """A claimed instance's token nonce (`Claim.comfy_token_nonce`) -> the headers that
    authenticate us at its ComfyUI: read with the claim, not looked up again per job."""
    screener: OutputScreener = field(default_factory=shared_screener)
    screening: Executor = field(
        default_factory=lambda: ThreadPoolExecutor(
            SCREENING_THREADS, thread_name_prefix="screening"
        )
    )
    """Judges outputs while the job's own thread fingerprints them (`_prepare`)."""
    after_job: Background = field(default_factory=lambda: Background())
    """Runs what comes after a job is recorded: its outputs' checks (`core.gallery.verdicts`)
    and thumbnails, on one thread of lower CPU priority than the jobs'."""


AFTER_JOB_NICENESS = 10
"""How much lower than the jobs' threads the after-job thread's CPU priority is (Linux gives
each thread its own nice value): a burst of jobs finishes first, their checks fill the CPU
the jobs leave."""


def _lower_priority(niceness: int) -> None:
    """Lower the calling thread's CPU priority by `niceness` (where the system allows)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed: the same priority then
        pass


class Background(ThreadPoolExecutor):
    """One thread, `AFTER_JOB_NICENESS` lower, that can be waited on until it has nothing
    left to do (`wait_idle`: tests, and a process about to stop)."""

    def __init__(self, niceness: int = AFTER_JOB_NICENESS) -> None:
        super().__init__(
            1, thread_name_prefix="after-job", initializer=_lower_priority, initargs=(niceness,)
        )
        self._queued: set[Future[object]] = set()
        self._queued_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """`ThreadPoolExecutor.submit`, remembered until it is done."""
        future: Future[Any] = super().submit(fn, *args, **kwargs)
        with self._queued_lock:
            self._queued.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with self._queued_lock:
            self._queued.discard(future)

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait until everything submitted so far is done; False if `timeout_s` passed first."""
        with self._queued_lock:
            queued = list(self._queued)
        return not wait(queued, timeout=timeout_s).not_done


Ending = Callable[[], None]
"""Writing how a job ended (its result, or its failure); safe to call again until it succeeds."""


@dataclass(frozen=True)
class Started:
    """A claimed job marked running (`start`) in the unit of work that claimed it, and when."""

    job: GenerationJob
    at: datetime


def run_job(ctx: RunContext, *, job_id: int, claim: Claim, started: Started) -> Ending | None:
    """Run a leased job on its instance and write how it ended; never raises.

    `started` is the job as the unit of work that claimed it marked it running (`start`):
    a crash after that commit leaves a running job with an open lease, which the leader's
    recovery requeues (`core.studio.outcomes.recover_orphaned_jobs`).

    The result is written only if this worker still holds the lease: if the pool took the
    instance back meanwhile (lost, expired, safe mode), the job was already requeued or
    refunded and this late result is dropped. Returns None once the ending is written; if
    writing it kept failing (the database unreachable past `run_transaction`'s retries), the
    failure is logged (`job.close_failed`) and the ending is returned for the caller to try
    again with `retry_ending` while it keeps the job; the lease stays open meanwhile.
    """
    ending: Ending
    close = partial(_close, ctx, claim, job_id)
    try:
        ending = _run(ctx, job_id, claim, started)
    except _Lacking as exc:
        files = ", ".join(path.rpartition("/")[2] for path in sorted(exc.paths))
        ending = partial(
            close,
            outcome="models_missing",
            retry=True,
            reason=f"the GPU did not have {files} yet; it is fetching it and the job waits",
            lacking=exc.paths,
        )
    except ComfyUnavailable as exc:
        ending = partial(
            close,
            outcome="instance_error",
            retry=True,
            reason=f"The GPU stopped answering ({exc}); your job was put back in the queue.",
            replace_instance=True,
        )
    except sa.exc.DBAPIError as exc:
        # The database, not the job, failed (past run_transaction's retries): the job goes
        # back to the queue, its credits still held, instead of failing as an internal error.
        log.warning("job.database_unreachable", extra={"job_id": job_id, "error": str(exc)[:200]})
        ending = partial(
            close,
            outcome="database_error",
            retry=True,
            reason="The database was briefly unreachable; your job was put back in the queue.",
        )
    except CoreError as exc:
        ending = partial(
            close,
            outcome="failed",
            retry=False,
            reason=f"Generation failed: {exc}. Your credits were refunded.",
        )
    except Exception:  # noqa: BLE001 - a worker must always settle its job
        log.exception("job.crashed", extra={"job_id": job_id})
        ending = partial(
            close,
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


def _run(ctx: RunContext, job_id: int, claim: Claim, marked: Started) -> Ending:
    job, started = marked.job, marked.at
    if job.cancel_requested_at is not None:  # stopped before it began: nothing ran
        return partial(_stop, ctx, claim, job_id, None)
    client = ctx.comfy(claim.comfy_url, ctx.credentials(claim.comfy_token_nonce))
    uploaded = tuple(
        client.upload_image(store.read(ctx.media, sha), f"{sha}.png")
        for sha in job.request.get("reference_images", [])
    )
    request = request_of(job, tools=_upload_sources(ctx, client, job), reference_images=uploaded)
    graph = build_graph(request, ctx.presets)
    progress = _ProgressWriter(ctx, job_id, client)
    try:
        result = client.run(graph, on_event=progress, on_wait=progress.check_stop)
    except ExecutionFailed:
        if progress.stop_requested():
            return partial(_stop, ctx, claim, job_id, started)
        raise
    except GraphInvalid as exc:
        missing = needs.lacking(exc, graph, ctx.presets)
        if missing:
            raise _Lacking(missing) from exc
        raise
    outputs = [(ref, client.view(ref)) for ref in result.outputs]
    generated = ctx.clock.now()
    # The CPU work on each output (decode, metadata, the screener's verdict) is done here,
    # before the unit of work that stores it: no lock is held meanwhile, and a retried ending
    # does not redo it. The verdict is recorded in the unit of work that creates the asset.
    ready = [
        _prepare(ctx, job, graph, index, ref, data) for index, (ref, data) in enumerate(outputs)
    ]
    return partial(_finish, ctx, claim, job_id, ready, started, generated)


Ready = tuple[store.Output, ScreeningResult] | store.Unchecked
"""A generated file decoded and checked, with the screener's verdict on it; or a PNG still
read no further than its header, stored `waiting` for its checks (`core.gallery.verdicts`)."""


def _prepare(
    ctx: RunContext, job: GenerationJob, graph: Graph, index: int, ref: OutputRef, data: bytes
) -> Ready:
    metadata = generation_metadata(job, ctx.presets, graph, index)
    if job.kind is MediaKind.IMAGE:
        # A still picture is stored as it came and checked after the job (hidden until
        # then): the decode, the perceptual hash and the screener cost the job ~30 ms of CPU.
        unchecked = store.still_png_header(data, mime=ref.mime, metadata=metadata)
        if unchecked is not None:
            return unchecked
    decoded = store.decode_output(data, kind=job.kind, mime=ref.mime, metadata=metadata)
    # The extension's media type must be what the bytes are (decode_output refuses a
    # mismatch); the screener judges the decoded file (an MP4: its sampled frames). A still
    # is judged on a screening thread while this one takes its fingerprints (onnxruntime
    # and Pillow release the GIL): the job waits for the longer of the two, not their sum.
    judge = partial(screening.judge, ctx.screener, decoded.data, decoded.mime, image=decoded.image)
    if not decoded.still:  # the screener seeks an animation's frames: one thread at a time
        return store.fingerprinted(decoded), judge()
    try:
        verdict = ctx.screening.submit(judge)
    except RuntimeError:  # the interpreter is shutting down: judge it here
        return store.fingerprinted(decoded), judge()
    return store.fingerprinted(decoded), verdict.result()


def start(session: Session, *, job_id: int, now: datetime) -> Started:
    """Mark job `job_id`, leased by `claim_next` in this same unit of work, running from `now`
    (one more attempt). The job is the row `claim_next` loaded and locked: no statement is
    sent for it before the commit, which writes the claim and the start as one."""
    job = session.get(GenerationJob, job_id)
    # An invariant, not a check: claim_next marked this very row leased a moment ago.
    assert job is not None and job.status is JobStatus.LEASED, job_id
    job.status = JobStatus.RUNNING
    job.started_at = now
    job.attempts += 1
    job.updated_at = now
    session.add(job)
    return Started(job, now)


def _upload_sources(ctx: RunContext, client: ComfyClient, job: GenerationJob) -> Tools:
    """The job's tools naming its source picture and mask as uploaded to this instance."""
    tools = Tools.from_json(job.request.get("tools"))
    source = tools.source and client.upload_image(
        store.read(ctx.media, tools.source), f"{tools.source}.png"
    )
    mask_bytes = mask_of(job)
    mask = None
    if mask_bytes is not None:
        mask = client.upload_image(mask_bytes, f"mask-{hashlib.sha256(mask_bytes).hexdigest()}.png")
    return tools.with_images(source or None, mask)


class _ProgressWriter:
    """Follows a run's events: writes sampler progress, with the latest preview frame, to the
    job row at most every PROGRESS_WRITE_INTERVAL_S (and on the last step), and interrupts
    the prompt once its user asked to stop it (looked up every STOP_CHECK_INTERVAL_S). A
    write or look-up the database refuses is logged and skipped, never fatal to the
    generation.

    A run is first written once it has lasted PROGRESS_WRITE_INTERVAL_S: a shorter one ends
    before the Studio (following at that interval) would show its bar, and its progress
    writes would only queue for the database's write lock ahead of other jobs' endings."""

    def __init__(self, ctx: RunContext, job_id: int, client: ComfyClient) -> None:
        self.ctx, self.job_id, self.client = ctx, job_id, client
        self.last_write = time.monotonic()
        # `start` read the job's stop request just now: the first look is due in an interval.
        self.last_stop_check = time.monotonic()
        self.wrote = False
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
        since_write = moment - self.last_write
        if since_write < PROGRESS_WRITE_INTERVAL_S and (event.value < event.max or not self.wrote):
            return
        self.wrote = True
        self.last_write = moment
        values: dict[str, object] = {
            "step": event.value,
            "total_steps": event.max,
            "updated_at": self.ctx.clock.now(),
        }
        if self.preview is not None:
            values |= {"preview": self.preview.data, "preview_mime": self.preview.mime}
        try:
            with session_scope(self.ctx.engine) as session:
                session.execute(
                    sa.update(GenerationJob)
                    .where(
                        col(GenerationJob.id) == self.job_id,
                        col(GenerationJob.status) == JobStatus.RUNNING,
                    )
                    .values(**values)
                )
        except sa.exc.DBAPIError as exc:
            # Progress is a courtesy: a database blip must not throw the generation away.
            # The next event writes again; the result is written (and retried) at the end.
            self.last_write = 0.0
            log.warning(
                "job.progress_write_failed", extra={"job_id": self.job_id, "error": str(exc)[:200]}
            )

    def stop_requested(self) -> bool:
        """Whether the job's user asked to stop it (False while the database cannot say:
        asked again at the next check)."""
        try:
            with read_scope(self.ctx.engine) as session:
                query = sa.select(col(GenerationJob.cancel_requested_at)).where(
                    col(GenerationJob.id) == self.job_id
                )
                return session.execute(query).scalar() is not None
        except sa.exc.DBAPIError as exc:
            log.warning(
                "job.stop_check_failed", extra={"job_id": self.job_id, "error": str(exc)[:200]}
            )
            return False


def _finish(
    ctx: RunContext,
    claim: Claim,
    job_id: int,
    outputs: Sequence[Ready],
    started: datetime,
    generated: datetime,
) -> None:
    now = ctx.clock.now()

    stored: dict[int, Image.Image] = {}  # asset id -> its decoded file, for its thumbnail
    waiting: list[verdicts.Waiting] = []  # stored unchecked: checked after the job

    def settle(session: Session) -> int | None:
        stored.clear()  # a retried unit of work starts again from nothing
        waiting.clear()
        # Lock order (core.locks): the user's balance and the job, then the lease.
        job = locks.lock_job(session, job_id)
        released = leases.release(session, lease_id=claim.lease_id, now=now, outcome="succeeded")
        if released is None:
            return None
        price = released.price_per_hour_usd
        if job is None or job.status in outcomes.TERMINAL:
            return None
        for index, ready in enumerate(outputs):
            title = f"{job.prompt[:60]} #{index + 1}"
            if isinstance(ready, store.Unchecked):
                asset = store.save_waiting(
                    session,
                    media=ctx.media,
                    owner_id=job.user_id,
                    job_id=job_id,
                    muse_id=job.muse_id,
                    output=ready,
                    title=title,
                    now=now,
                    category=job.request.get("category"),
                    tags=job.request.get("tags", ()),
                )
                explicit = bool(job.request.get("nsfw"))
                waiting.append(verdicts.Waiting(asset.id or 0, ready.data, ready.mime, explicit))
                continue
            prepared, verdict = ready
            asset = store.save_output(
                session,
                media=ctx.media,
                owner_id=job.user_id,
                job_id=job_id,
                muse_id=job.muse_id,
                data=prepared.data,
                kind=job.kind,
                mime=prepared.mime,
                title=title,
                now=now,
                category=job.request.get("category"),
                tags=job.request.get("tags", ()),
                thumbnail=False,
                prepared=prepared,
            )
            stored[asset.id or 0] = prepared.image
            # The verdict is recorded before this unit of work commits: no output is ever
            # seen unscreened.
            screening.screen_output(
                session,
                asset=asset,
                data=prepared.data,
                explicit_request=bool(job.request.get("nsfw")),
                screener=ctx.screener,
                now=now,
                result=verdict,
            )
        # GPU time is charged up to the outputs' download, as before they were prepared here.
        seconds = (generated - started).total_seconds()
        cost = costs.cost_for(price, seconds)
        return outcomes.succeed(session, job, cost_usd=cost, pricing=ctx.pricing, now=now)

    charged = run_transaction(ctx.engine, settle, name="studio.finish")
    if charged is None:
        log.warning("job.result_dropped", extra={"job_id": job_id})
        return
    seconds = (now - started).total_seconds()
    log.info("job.succeeded", extra={"job_id": job_id, "seconds": seconds, "credits": charged})
    try:
        ctx.after_job.submit(_after_job, ctx, stored, waiting)
    except RuntimeError:  # shutting down: do it here rather than not at all
        _after_job(ctx, stored, waiting)


def _after_job(
    ctx: RunContext, decoded: dict[int, Image.Image], waiting: Sequence[verdicts.Waiting]
) -> None:
    """The checks of the outputs stored unchecked, then the thumbnails of those decoded on
    the job's path; a failure is logged (an output left waiting is taken by the backstop,
    `verdicts.check_waiting`; a page shows the full file until it has a thumbnail)."""
    if waiting:
        try:
            verdicts.check(
                ctx.engine,
                media=ctx.media,
                screener=ctx.screener,
                now=ctx.clock.now,
                outputs=waiting,
            )
        except Exception:  # noqa: BLE001 - the job is done; the backstop checks it later
            log.exception("job.checks_failed", extra={"asset_ids": [w.asset_id for w in waiting]})
    if decoded:
        _add_thumbnails(ctx, decoded)


def _add_thumbnails(ctx: RunContext, decoded: dict[int, Image.Image]) -> None:
    """The thumbnails of the assets in `decoded`, from the images decoded for the job (the
    stored files are not read or decoded again)."""
    try:
        with session_scope(ctx.engine) as session:
            store.add_thumbnails(session, media=ctx.media, asset_ids=list(decoded), decoded=decoded)
    except Exception:  # noqa: BLE001 - pages fall back to the full file; the job is done
        log.exception("job.thumbnails_failed", extra={"asset_ids": list(decoded)})


def _stop(ctx: RunContext, claim: Claim, job_id: int, started: datetime | None) -> None:
    """End a job its user stopped: release the lease (the instance goes back to the pool, as
    after any job), charge the GPU time used since `started` (None: it never ran), refund the
    rest. Nothing of the interrupted run is stored."""
    now = ctx.clock.now()

    def settle(session: Session) -> int | None:
        job = locks.lock_job(session, job_id)
        released = leases.release(session, lease_id=claim.lease_id, now=now, outcome="cancelled")
        if released is None:
            return None
        price = released.price_per_hour_usd
        if job is None or job.status in outcomes.TERMINAL:
            return None
        cost = None if started is None else costs.cost_for(price, (now - started).total_seconds())
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
    lacking: frozenset[str] = frozenset(),
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
    if lacking:
        _note_lacking(ctx, claim.instance_id, lacking)


class _Lacking(Exception):
    """ComfyUI refused the graph for model files its instance does not have (yet)."""

    def __init__(self, paths: frozenset[str]) -> None:
        super().__init__(", ".join(sorted(paths)))
        self.paths = paths


def _note_lacking(ctx: RunContext, instance_id: int, paths: frozenset[str]) -> None:
    """Count `paths` as still to come on the instance: no job loading them is leased to it,
    and the pool's next tick asks it for them (`core.pool.manager`)."""

    def mark(session: Session) -> None:
        instance = session.get(GpuInstance, instance_id)
        if instance is not None:
            instance.models_pending = sorted(set(instance.models_pending) | paths)
            session.add(instance)

    run_transaction(ctx.engine, mark, name="studio.note_lacking")


def _request_replacement(ctx: RunContext, instance_id: int) -> None:
    """An instance whose ComfyUI stopped answering is destroyed at the next tick."""
    now = ctx.clock.now()

    def mark(session: Session) -> None:
        instance = session.get(GpuInstance, instance_id)
        if instance is not None and instance.terminate_requested_at is None:
            instance.terminate_requested_at = now
            session.add(instance)

    run_transaction(ctx.engine, mark, name="studio.replace_instance")
